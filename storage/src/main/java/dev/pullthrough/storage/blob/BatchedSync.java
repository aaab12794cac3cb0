package dev.pullthrough.storage.blob;

import dev.pullthrough.oci.Digest;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes commits durable in batches, off the download path (issue 28): a commit records its blob in
 * {@link UnsyncedCommits} and is renamed at once; {@link #syncIfDue()} (called every second or so,
 * and started early when a window's bytes are owed) fsyncs the committed files and only then
 * settles their markers and moves the durable mark. So at any moment at most one window
 * ({@code window} of time or {@code windowBytes}, plus what a running sync takes) is owed, and that is
 * exactly what a start after a crash re-hashes.
 */
public final class BatchedSync implements CommitDurability {
    private static final Logger LOG = LoggerFactory.getLogger(BatchedSync.class);

    /** Puts one file's bytes on the disk: {@code FileChannel.force} in production, a recorder in tests. */
    @FunctionalInterface
    public interface FileSync {
        void force(Path file) throws IOException;

        FileSync FORCE = file -> {
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
                channel.force(true);
            }
        };
    }

    /** A commit owed to the disk: its sequence number, file, size and when it was committed. */
    private record Owed(long sequence, Digest digest, Path file, long size, long committedMillis) {}

    private final UnsyncedCommits markers;
    private final FileSync sync;
    private final Clock clock;
    private final Duration window;
    private final long windowBytes;
    private final Executor syncThread;
    /** One sync at a time, so that the mark moves in order. */
    private final Object syncing = new Object();

    // Guarded by this.
    private long committedThrough;
    private final Map<Long, Owed> renaming = new HashMap<>();
    private final List<Owed> renamed = new ArrayList<>();
    private final List<Owed> beingSynced = new ArrayList<>();
    private long owedBytes;
    private boolean kicked;

    /**
     * @param window      how long a commit may stay owed before a sync is due
     * @param windowBytes how many committed bytes may be owed before a sync starts without waiting for the window
     * @param syncThread  where a sync started by the bytes runs (never a download's own thread)
     */
    public BatchedSync(UnsyncedCommits markers, FileSync sync, Clock clock, Duration window, long windowBytes, Executor syncThread) {
        this.markers = markers;
        this.sync = sync;
        this.clock = clock;
        this.window = window;
        this.windowBytes = windowBytes;
        this.syncThread = syncThread;
    }

    @Override
    public void beforeRename(Digest digest, Path target, long size, FileChannel written) throws IOException {
        Owed owed;
        synchronized (this) {
            // Registered before the marker exists: a sync settling an earlier commit of this digest
            // sees it and leaves the marker, which now covers this commit too.
            owed = new Owed(++committedThrough, digest, target, size, clock.millis());
            renaming.put(owed.sequence(), owed);
        }
        try {
            markers.record(digest);
        } catch (IOException e) {
            // Cannot record it as owed (a full or broken disk): then this one is synced before anyone sees it.
            LOG.warn("recording {} as not yet synced failed ({}); syncing it now instead", digest, e.toString());
            synchronized (this) {
                renaming.remove(owed.sequence());
            }
            written.force(true);
        }
    }

    @Override
    public void afterRename(Digest digest, boolean renamed) {
        boolean kick;
        synchronized (this) {
            Owed owed = null;
            for (Owed candidate : renaming.values()) {
                if (candidate.digest().equals(digest) && (owed == null || candidate.sequence() < owed.sequence())) {
                    owed = candidate;
                }
            }
            if (owed == null) {
                return; // synced before its rename (its marker could not be written)
            }
            renaming.remove(owed.sequence());
            // A failed rename left nothing to sync, but its marker is settled by a sync like any other.
            this.renamed.add(owed);
            owedBytes += renamed ? owed.size() : 0;
            kick = owedBytes >= windowBytes && !kicked;
            kicked |= kick;
        }
        if (kick) {
            syncThread.execute(this::syncIfDue);
        }
    }

    /** Syncs when a commit has been owed for a window, or a window's bytes are owed. */
    public void syncIfDue() {
        boolean due;
        synchronized (this) {
            kicked = false;
            due = !renamed.isEmpty() && (owedBytes >= windowBytes
                    || clock.millis() - renamed.get(0).committedMillis() >= window.toMillis());
        }
        if (due) {
            syncNow();
        }
    }

    /**
     * Syncs every commit renamed so far, then settles their markers and moves the mark: never the
     * other way round, or a power loss between the two would leave a torn blob nobody re-hashes.
     * A clean stop calls this last.
     */
    public void syncNow() {
        synchronized (syncing) {
            List<Owed> batch;
            synchronized (this) {
                batch = new ArrayList<>(renamed);
                beingSynced.addAll(batch);
                renamed.clear();
                owedBytes = 0;
            }
            List<Owed> failed = new ArrayList<>();
            for (Owed owed : batch) {
                try {
                    sync.force(owed.file());
                } catch (NoSuchFileException e) {
                    // evicted or never renamed: nothing left to serve torn
                } catch (IOException e) {
                    LOG.warn("syncing blob {} failed ({}); it stays owed and is re-hashed after a crash", owed.digest(), e.toString());
                    failed.add(owed);
                }
            }
            synchronized (this) {
                beingSynced.clear();
                renamed.addAll(0, failed);
                for (Owed owed : failed) {
                    owedBytes += owed.size();
                }
                for (Owed owed : batch) {
                    if (!failed.contains(owed) && !stillOwed(owed.digest())) {
                        settle(owed.digest());
                    }
                }
            }
        }
    }

    private boolean stillOwed(Digest digest) {
        return renaming.values().stream().anyMatch(o -> o.digest().equals(digest))
                || renamed.stream().anyMatch(o -> o.digest().equals(digest));
    }

    private void settle(Digest digest) {
        try {
            markers.settle(digest);
        } catch (IOException e) {
            // the marker stays: a start after a crash re-hashes one durable blob for nothing
            LOG.warn("forgetting that {} was owed failed: {}", digest, e.toString());
        }
    }

    /** The highest commit sequence number issued so far. */
    public synchronized long committedThrough() {
        return committedThrough;
    }

    /** The durable mark: every commit up to this sequence number is on the disk. */
    public synchronized long durableThrough() {
        long lowestOwed = committedThrough + 1;
        for (Owed owed : renaming.values()) {
            lowestOwed = Math.min(lowestOwed, owed.sequence());
        }
        for (List<Owed> list : List.of(renamed, beingSynced)) {
            for (Owed owed : list) {
                lowestOwed = Math.min(lowestOwed, owed.sequence());
            }
        }
        return lowestOwed - 1;
    }

    /** Committed bytes not yet synced (what a crash now could make a start re-hash). */
    public synchronized long owedBytes() {
        long bytes = owedBytes;
        for (Owed owed : beingSynced) {
            bytes += owed.size();
        }
        return bytes;
    }
}
