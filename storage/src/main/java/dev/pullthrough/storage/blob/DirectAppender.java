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
 * staged rest is still only in memory. Single writer.
 */
final class DirectAppender {
    private final DirectWrites writes;
    private final FileChannel channel;
    private ByteBuffer stage;
    private long inFile;
    private long appended;

    DirectAppender(Path file, DirectWrites writes) throws IOException {
        this.writes = writes;
        this.channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT);
        this.stage = writes.takeStage();
    }

    FileChannel channel() {
        return channel;
    }

    void append(ByteBuffer bytes) throws IOException {
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

    /** Writes what is staged, padded to the block size, and cuts the file back to the bytes appended. */
    void finish() throws IOException {
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

    /** Gives the staging buffer back; called by the writing thread, after its last append or finish. */
    void release() {
        ByteBuffer given = stage;
        stage = null;
        if (given != null) {
            writes.giveBack(given);
        }
    }
}
