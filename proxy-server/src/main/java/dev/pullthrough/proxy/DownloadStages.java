package dev.pullthrough.proxy;

import java.util.Locale;
import java.util.concurrent.atomic.LongAdder;

/**
 * Where a blob download's time went, stage by stage, for one log line when it is committed (issue 28):
 * the upstream's bytes from first to last read, how long the transport did not read because the
 * download held a full window (it waited on the disk or the hash), how long the file writes and the
 * hash took, and how long after the last byte the digest was verified. Each figure is written by
 * one thread only (the transport's loop, the write executor, the hash executor) and read once,
 * at the commit, which every one of those threads' work happens before.
 */
final class DownloadStages {
    private long chunks;
    private long firstRead;
    private long lastRead;
    private long readsWaited = -1;
    private long writing;
    private long hashing;
    private long verified;
    /** Where the file went on through the page cache (a crowd joined), or -1: written direct or through the page cache throughout. */
    private long toPageCacheAt = -1;
    /** Bytes clients copied from the download's memory rather than read from its file (server loops, any number). */
    private final LongAdder fromMemory = new LongAdder();

    /** A chunk arrived at {@code now} (the transport's loop). */
    void read(long now) {
        if (chunks++ == 0) {
            firstRead = now;
        }
        lastRead = now;
    }

    /** The transport did not read for this long, waiting on the download. */
    void readsWaited(long nanos) {
        readsWaited = nanos;
    }

    /** A chunk's write took this long (the write executor). */
    void wrote(long nanos) {
        writing += nanos;
    }

    /** A chunk's hashing took this long (the hash executor). */
    void hashed(long nanos) {
        hashing += nanos;
    }

    /** The digest was verified at {@code now}. */
    void verified(long now) {
        verified = now;
    }

    /** The file is written through the page cache from this offset on (the write executor). */
    void toPageCacheAt(long offset) {
        toPageCacheAt = offset;
    }

    /** Clients were sent this many bytes from memory. */
    void sentFromMemory(long bytes) {
        fromMemory.add(bytes);
    }

    long chunks() {
        return chunks;
    }

    /**
     * "512 MiB in 514 chunks over 0.71 s (721 MiB/s): reads waited 0.43 s, file 0.11 s, hash 0.45 s, verified 1.2 ms
     * after the last byte; 512 MiB sent from memory" (the rest its clients read from the file, having fallen behind),
     * and where a file written direct went on through the page cache, when it did.
     */
    String describe(long bytes) {
        double seconds = (lastRead - firstRead) / 1e9;
        return String.format(Locale.ROOT, "%d MiB in %d %s over %.2f s (%s): reads waited %s, file %.2f s, hash %.2f s, "
                        + "verified %.1f ms after the last byte; %d MiB sent from memory",
                bytes >> 20, chunks, chunks == 1 ? "chunk" : "chunks", seconds, seconds > 0 ? String.format(Locale.ROOT, "%.0f MiB/s", bytes / 1048576.0 / seconds) : "-",
                readsWaited < 0 ? "-" : String.format(Locale.ROOT, "%.2f s", readsWaited / 1e9), writing / 1e9, hashing / 1e9,
                (verified - lastRead) / 1e6, fromMemory.sum() >> 20)
                + (toPageCacheAt < 0 ? "" : String.format(Locale.ROOT, "; through the page cache from MiB %d on (a crowd joined)",
                toPageCacheAt >> 20));
    }
}
