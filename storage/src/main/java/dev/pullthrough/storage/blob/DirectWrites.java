package dev.pullthrough.storage.blob;

import com.sun.nio.file.ExtendedOpenOption;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writing big blobs past the page cache (O_DIRECT), where the file system allows it. A cold blob's
 * bytes are sent to its clients from memory as they arrive ({@code proxy.BlobDownload}), so the file
 * only has to keep them: through the page cache, every new page of it is memory the kernel has to
 * find and fill first, which on a VM whose free memory the host takes back cost about 1 s of CPU per
 * 512 MiB written (against 0.1 s direct, issue 28), on the thread the download's clients wait for.
 * Small blobs still go through the page cache: they are read again soon, and the cost is per byte.
 * Holds a few block-aligned staging buffers for reuse: fresh direct memory is exactly the cost this avoids.
 */
public final class DirectWrites {
    private static final Logger LOG = LoggerFactory.getLogger(DirectWrites.class);
    /** Blobs declaring at least this many bytes are written direct. */
    public static final long FROM_BYTES = 8L << 20;
    /** Bytes gathered before one direct write: a multiple of any block size. */
    static final int STAGE = 1 << 20;
    private static final int KEPT = 8;
    /** Block alignment that any file system's direct I/O accepts (logical blocks of 512 or 4096 bytes). */
    static final int ALIGN = 4096;

    /** A store that writes everything through the page cache. */
    public static final DirectWrites OFF = new DirectWrites(false);

    private final boolean on;
    private final ConcurrentLinkedQueue<ByteBuffer> spare = new ConcurrentLinkedQueue<>();
    private final AtomicInteger spareCount = new AtomicInteger();

    private DirectWrites(boolean on) {
        this.on = on;
    }

    /**
     * Direct writes into {@code directory} if a probe file there takes one aligned direct write
     * (tmpfs and some overlay file systems refuse O_DIRECT), page cache writes otherwise.
     */
    public static DirectWrites probe(Path directory) {
        Path probe = directory.resolve(".direct-probe");
        try {
            Files.deleteIfExists(probe);
            try (FileChannel channel = FileChannel.open(probe, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                    ExtendedOpenOption.DIRECT)) {
                ByteBuffer block = ByteBuffer.allocateDirect(2 * ALIGN).alignedSlice(ALIGN);
                block.limit(ALIGN);
                channel.write(block, 0);
            }
            return new DirectWrites(true);
        } catch (IOException | UnsupportedOperationException e) {
            LOG.info("big blobs are written through the page cache: {} does not take direct writes ({})", directory, e.toString());
            return OFF;
        } finally {
            try {
                Files.deleteIfExists(probe);
            } catch (IOException ignored) {
                // a leftover probe file is swept with the temp files at the next start
            }
        }
    }

    /** Whether a blob declaring {@code size} bytes is written direct. */
    boolean forSize(long size) {
        return on && size >= FROM_BYTES;
    }

    public boolean on() {
        return on;
    }

    /** A staging buffer, block-aligned, of {@link #STAGE} bytes. */
    ByteBuffer takeStage() {
        ByteBuffer kept = spare.poll();
        if (kept != null) {
            spareCount.decrementAndGet();
            kept.clear();
            return kept;
        }
        return ByteBuffer.allocateDirect(STAGE + ALIGN).alignedSlice(ALIGN);
    }

    /** Gives a staging buffer back: only once nothing writes into it or from it any more. */
    void giveBack(ByteBuffer stage) {
        if (spareCount.incrementAndGet() <= KEPT) {
            spare.add(stage);
        } else {
            spareCount.decrementAndGet();
        }
    }
}
