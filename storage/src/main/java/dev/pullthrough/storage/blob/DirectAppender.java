package dev.pullthrough.storage.blob;

import com.sun.nio.file.ExtendedOpenOption;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Appends to a new file with direct writes: bytes are gathered in an aligned staging buffer and
 * written a whole stage at a time; the last partial stage is padded to the block size and the file
 * cut back to its length. Only what a stage write put in the file counts as {@link #inFile()}: the
 * staged rest is still only in memory. {@link #toPageCache()} goes on through the page cache for
 * the rest of the file, when more readers will read it than memory serves. Single writer.
 */
final class DirectAppender {
    private final DirectWrites writes;
    private final Path file;
    private final FileChannel channel;
    private ByteBuffer stage;
    /** The file opened without O_DIRECT once {@link #toPageCache()} was called; null while writing direct. */
    private FileChannel buffered;
    private long inFile;
    private long appended;

    DirectAppender(Path file, DirectWrites writes) throws IOException {
        this.writes = writes;
        this.file = file;
        this.channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT);
        this.stage = writes.takeStage();
    }

    FileChannel channel() {
        return channel;
    }

    void append(ByteBuffer bytes) throws IOException {
        if (buffered != null) {
            while (bytes.hasRemaining()) {
                appended += buffered.write(bytes, appended);
            }
            inFile = appended;
            return;
        }
        while (bytes.hasRemaining()) {
            int take = Math.min(bytes.remaining(), stage.remaining());
            ByteBuffer part = bytes.slice();
            part.limit(take);
            stage.put(part);
            bytes.position(bytes.position() + take);
            appended += take;
            if (!stage.hasRemaining()) {
                writeStage(stage.capacity());
            }
        }
    }

    /**
     * Writes the rest of the file through the page cache, the staged bytes first: readers that fall
     * behind then find the bytes in memory instead of reading them back from the disk. The bytes
     * written direct so far stay as they are (the kernel keeps both views of the file coherent).
     */
    void toPageCache() throws IOException {
        if (buffered != null) {
            return;
        }
        FileChannel opened = FileChannel.open(file, StandardOpenOption.WRITE);
        stage.flip();
        long position = inFile;
        try {
            while (stage.hasRemaining()) {
                position += opened.write(stage, position);
            }
        } catch (IOException e) {
            opened.close();
            throw e;
        }
        buffered = opened;
        inFile = appended;
        release();
    }

    /** Writes what is staged, padded to the block size, and cuts the file back to the bytes appended. */
    void finish() throws IOException {
        if (buffered != null) {
            return;
        }
        int staged = stage.position();
        if (staged > 0) {
            int padded = (staged + DirectWrites.ALIGN - 1) / DirectWrites.ALIGN * DirectWrites.ALIGN;
            while (stage.position() < padded) {
                stage.put((byte) 0);
            }
            writeStage(padded);
            channel.truncate(appended);
        }
        inFile = appended;
    }

    private void writeStage(int length) throws IOException {
        stage.flip();
        stage.limit(length);
        long position = inFile;
        while (stage.hasRemaining()) {
            position += channel.write(stage, position);
        }
        stage.clear();
        inFile = Math.min(position, appended);
    }

    long inFile() {
        return inFile;
    }

    long appended() {
        return appended;
    }

    /** Closes the page-cache view, if there is one (the direct channel is its writer's to close). */
    void closeBuffered() {
        FileChannel open = buffered;
        if (open != null) {
            try {
                open.close();
            } catch (IOException ignored) {
                // the file is synced through the direct channel; nothing of it is lost by a failed close
            }
        }
    }

    /** Gives the staging buffer back; called by the writing thread, after its last append or finish. */
    void release() {
        ByteBuffer given = stage;
        stage = null;
        if (given != null) {
            writes.giveBack(given);
        }
    }
}
