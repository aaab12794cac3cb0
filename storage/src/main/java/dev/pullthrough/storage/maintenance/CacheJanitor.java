package dev.pullthrough.storage.maintenance;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.blob.BlobStore;
import dev.pullthrough.storage.meta.IndexEntry;
import dev.pullthrough.storage.meta.MetadataStore;
import java.io.IOException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the cache within {@code storage.maxSize}: when what is cached exceeds the bound, the least
 * recently used blobs and manifests go, down to {@link #LOW_WATER} of the bound, never one that is
 * being served or downloaded. Accesses are collected in memory and written to the index in batches.
 */
public final class CacheJanitor {
    /** Evict down to this share of the bound, so one new blob does not cause an eviction each time. */
    static final double LOW_WATER = 0.9;
    /** Entries looked at per step under the lock: 64 evictions of small blobs took 30-40 ms here. */
    static final int STEP = 64;
    /**
     * Reading a step's entries ends after this long, however many it found: at a million entries
     * one index read took up to 300 us here (each entry is checked against its record), so 64 of
     * them took 20-25 ms, and a slow disk would make a step as long as its slowest reads. A step
     * that has chosen nothing yet goes on (up to {@link #STEP}), so entries in use never end a pass.
     */
    static final long STEP_READ_BUDGET_NANOS = 10_000_000;
    /**
     * No one blob may take more than this share of the bound: whatever one upstream answer declares
     * (or sends without declaring), at least half of what was cached survives it, and a blob larger
     * than that is passed through without evicting anything (issue 26).
     */
    static final double LARGEST_BLOB_SHARE = 0.5;
    private static final Logger LOG = LoggerFactory.getLogger(CacheJanitor.class);

    /** Told of every eviction (for metrics). */
    public interface Listener {
        void evicted(IndexEntry entry);
    }

    private final MetadataStore metadata;
    private final BlobStore blobs;
    private final long maxSize;
    private final Predicate<Digest> inUse;
    private final Listener listener;
    private final Clock clock;
    private final Executor background;
    private final LongSupplier ticker;
    private final AtomicBoolean passPending = new AtomicBoolean();
    private final AtomicLong used = new AtomicLong();
    /** Bytes held for downloads in flight ({@link Reservation}): counted against the bound before they are written. */
    private final AtomicLong reserved = new AtomicLong();
    private final Object counting = new Object();
    /**
     * Taken to move a committed blob's bytes from {@link #reserved} to {@link #used}, and to read their
     * sum: the move is one step for whoever makes room, so those bytes count once, never twice (which
     * evicted a blob too many when a download started just as another committed) and never not at all.
     */
    private final Object charging = new Object();
    private volatile boolean counted;
    private final Map<Digest, Long> pendingAccesses = new ConcurrentHashMap<>();

    /** {@code background} runs the passes that downloads and admissions start (one waits at a time). */
    public CacheJanitor(MetadataStore metadata, BlobStore blobs, long maxSize, Predicate<Digest> inUse, Listener listener,
                        Clock clock, Executor background) {
        this(metadata, blobs, maxSize, inUse, listener, clock, background, System::nanoTime);
    }

    /** {@code ticker} times a step's reading ({@link System#nanoTime()} but in tests). */
    CacheJanitor(MetadataStore metadata, BlobStore blobs, long maxSize, Predicate<Digest> inUse, Listener listener,
                 Clock clock, Executor background, LongSupplier ticker) {
        this.ticker = ticker;
        this.metadata = metadata;
        this.blobs = blobs;
        this.maxSize = maxSize;
        this.inUse = inUse;
        this.listener = listener;
        this.clock = clock;
        this.background = background;
    }

    /**
     * Counts what the index holds (one pass over it). Not done on construction, so that start-up
     * does not grow with the cache: the proxy counts in the background once it serves, and the
     * first eviction decision counts first if that has not finished.
     */
    public void recount() {
        synchronized (counting) {
            used.set(total());
            counted = true;
        }
    }

    private void countOnce() {
        synchronized (counting) {
            if (!counted) {
                recount();
            }
        }
    }

    /** Bytes the index says are cached (0 until counted). */
    public long used() {
        return used.get();
    }

    public long maxSize() {
        return maxSize;
    }

    /** The largest blob the cache takes: {@link #LARGEST_BLOB_SHARE} of {@code storage.maxSize}. */
    public long largestAdmitted() {
        return (long) (maxSize * LARGEST_BLOB_SHARE);
    }

    /** Bytes held for downloads in flight, not yet committed. */
    public long reserved() {
        return reserved.get();
    }

    /**
     * Room for a blob of {@code bytes} on its way in: what the index holds plus every reservation
     * stays within the bound, least recently used entries evicted for it now. Empty, with nothing
     * evicted, when the blob is larger than {@link #largestAdmitted()}: the size decides before any
     * eviction does. A body of unknown length reserves 0 and {@linkplain Reservation#growTo grows}
     * as it arrives.
     */
    public Optional<Reservation> reserve(long bytes) {
        Reservation reservation = new Reservation();
        return reservation.growTo(bytes) ? Optional.of(reservation) : Optional.empty();
    }

    /**
     * Room held for one download. Released when the download ends either way: after a commit the
     * index counts the bytes (through {@link #added}), after a failure nobody does.
     */
    public final class Reservation {
        private long bytes;
        private boolean released;

        private Reservation() {}

        public synchronized long bytes() {
            return bytes;
        }

        /**
         * Holds room for {@code total} bytes in all (evicting for the growth if need be); false, with
         * nothing changed and nothing evicted, when {@code total} is more than one blob may take or
         * the reservation was released (a write racing its download's failure holds nothing).
         */
        public boolean growTo(long total) {
            synchronized (this) {
                if (released) {
                    return false;
                }
                if (total <= bytes) {
                    return true;
                }
                if (total > largestAdmitted()) {
                    return false;
                }
                reserved.addAndGet(total - bytes);
                bytes = total;
            }
            // Counted first, evicted for after: concurrent reservations each see the others' bytes.
            makeRoomFor(0);
            return true;
        }

        /**
         * The blob was committed and indexed ({@code size} bytes): its room becomes what the index
         * counts, in one step (a pass starts in the background when that took the cache over its bound).
         */
        public void settle(long size) {
            long held;
            synchronized (this) {
                held = released ? 0 : bytes;
                bytes = 0;
                released = true;
            }
            synchronized (charging) {
                used.addAndGet(size);
                reserved.addAndGet(-held);
            }
            if (used.get() > maxSize) {
                requestPass(0);
            }
        }

        /** The room goes back, for good (idempotent). */
        public synchronized void release() {
            reserved.addAndGet(-bytes);
            bytes = 0;
            released = true;
        }
    }

    /**
     * Something of {@code size} bytes was just stored and indexed; when that took the cache over
     * its bound, a pass starts in the background (the caller, a download or an admitted manifest,
     * does not wait for it).
     */
    public void added(long size) {
        if (used.addAndGet(size) > maxSize) {
            requestPass(0);
        }
    }

    /** What the index counts plus every reservation, read in one step with {@link Reservation#settle}'s move. */
    private long charged() {
        synchronized (charging) {
            return used.get() + reserved.get();
        }
    }

    /** A cached digest was served: it moves to the back of the eviction queue. */
    public void accessed(Digest digest) {
        pendingAccesses.put(digest, clock.millis());
    }

    /** Writes the collected accesses to the index. */
    public void flushAccesses() {
        if (pendingAccesses.isEmpty()) {
            return;
        }
        Map<Digest, Long> batch = new HashMap<>();
        for (Digest digest : List.copyOf(pendingAccesses.keySet())) {
            Long at = pendingAccesses.remove(digest);
            if (at != null) {
                batch.put(digest, at);
            }
        }
        metadata.touch(batch);
    }

    /**
     * A pass, in the caller's thread: while the cache exceeds its bound, least-recently-used entries
     * go, down to the low-water mark; returns how many went.
     */
    public int evictIfNeeded() {
        countOnce();
        return used.get() <= maxSize ? 0 : pass(0);
    }

    /**
     * Makes room for {@code incoming} more bytes before they are written, so the disk does not hold
     * more than the bound while a download is in flight; returns how many entries the caller evicted.
     * The caller evicts until its bytes fit and leaves the way down to the low-water mark to a pass
     * in the background. A cache already over its bound (commits racing, or a restart with a smaller
     * storage.maxSize) is brought within it first: the bound holds for the disk; a running pass shares
     * that work step by step.
     */
    public int makeRoomFor(long incoming) {
        if (counted && charged() + incoming <= maxSize) {
            return 0;
        }
        countOnce();
        long held;
        synchronized (charging) {
            held = reserved.get() + incoming;
            if (used.get() + held <= maxSize) {
                return 0;
            }
        }
        flushAccesses();
        // Its own evictions first, the pass after: the pass's steps lower the count before their
        // files are deleted, and a download that saw that count would write while they still stand.
        int evicted = evictDownTo(maxSize - held, held);
        requestPass(incoming);
        return evicted;
    }

    /** Starts a pass in the background unless one is waiting to start already. */
    private void requestPass(long incoming) {
        if (passPending.compareAndSet(false, true)) {
            background.execute(() -> {
                passPending.set(false);
                try {
                    pass(incoming);
                } catch (RuntimeException e) {
                    LOG.warn("an eviction pass failed (the next one retries): {}", e.toString());
                }
            });
        }
    }

    /** Down to the low-water mark, minus what is on its way in (reserved, or {@code incoming} besides). */
    private int pass(long incoming) {
        countOnce();
        flushAccesses();
        long held = reserved.get() + incoming;
        return evictDownTo(Math.max(0, (long) (maxSize * LOW_WATER) - held), held);
    }

    /**
     * Reads the index from the least recently used entry on and stops at {@code target}: a pass costs
     * what it evicts, not the size of the cache. It works in steps of at most {@link #STEP} entries
     * and holds the janitor's lock only to decide and write each step, so passes share the work and
     * a download that fits is never held up.
     */
    private int evictDownTo(long target, long incoming) {
        int evicted = 0;
        long before = used.get();
        long passStarted = System.nanoTime();
        long[] longestLocked = {0};
        boolean recounted = false;
        long[] from = {0};
        // An interrupt (shutting down) ends the pass between steps, with the index consistent.
        while (used.get() > target && !Thread.currentThread().isInterrupted()) {
            List<IndexEntry> candidates = candidates(target, from);
            if (candidates.isEmpty()) {
                if (recounted) {
                    break;
                }
                // Nothing more can go: either all that is left is in use, or the running count
                // drifted from the index (a blob committed twice). Count once, the slow way, and retry.
                recount();
                recounted = true;
                from[0] = 0;
                continue;
            }
            // None of them may go when another pass took them first: the next step reads on.
            evicted += evict(unindex(candidates, target, longestLocked));
        }
        if (evicted > 0) {
            LOG.info("evicted {} entries ({} bytes) in {} ms, longest step under the lock {} ms", evicted,
                    before - used.get(), (System.nanoTime() - passStarted) / 1_000_000, longestLocked[0] / 1_000_000);
        }
        if (used.get() + incoming > maxSize) {
            LOG.warn("the cache holds {} bytes (+{} incoming), over storage.maxSize {}, and what remains is in use",
                    used.get(), incoming, maxSize);
        }
        return evicted;
    }

    /**
     * One step: up to {@link #STEP} of the oldest entries from {@code from[0]} on read, without the
     * lock, and those not in use evicted; {@code from[0]} moves to where the next step starts. The
     * lock covers only the decision and the removal of the step's index entries (one write): a read
     * of the index stalled here now and then (one of 20 ms, one of 240 ms at a million entries) and
     * must not hold up a download that waits for room. The files go after the lock: deleting them took
     * most of a step, up to 300 ms at a million entries. A crash in between leaves files that recovery
     * re-indexes, never an entry that points at nothing.
     */
    private int evict(List<IndexEntry> chosen) {
        deleteFiles(chosen);
        chosen.forEach(listener::evicted);
        return chosen.size();
    }

    private void deleteFiles(List<IndexEntry> unindexed) {
        for (IndexEntry entry : unindexed) {
            if (entry.kind() == IndexEntry.Kind.BLOB) {
                try {
                    blobs.delete(entry.digest());
                } catch (IOException e) {
                    LOG.warn("deleting the file of removed blob {} failed (fsck or the next start re-indexes it): {}",
                            entry.digest(), e.toString());
                }
            }
        }
    }

    /** What {@link #remove} took out, and how many indexed entries it kept because they were in use. */
    public record Removal(List<IndexEntry> removed, int keptInUse) {}

    /**
     * Removes these blobs and manifests now, whatever their age (purge), except those being served
     * or downloaded.
     */
    public Removal remove(Collection<Digest> digests) {
        countOnce();
        List<IndexEntry> candidates = new ArrayList<>();
        int busy = 0;
        for (Digest digest : digests) {
            Optional<IndexEntry> entry = metadata.entry(digest);
            if (entry.isPresent() && inUse.test(digest)) {
                busy++;
            } else {
                entry.ifPresent(candidates::add);
            }
        }
        List<IndexEntry> removed = unindex(candidates, Long.MIN_VALUE, new long[1]);
        deleteFiles(removed);
        return new Removal(removed, busy + candidates.size() - removed.size());
    }

    /** The step's candidates in age order: enough to reach {@code target} if none went meanwhile. */
    private List<IndexEntry> candidates(long target, long[] from) {
        int[] looked = {0};
        long[] left = {used.get()};
        List<IndexEntry> candidates = new ArrayList<>();
        long started = ticker.getAsLong();
        metadata.forEachByAge(from[0], entry -> {
            if (left[0] <= target || looked[0] >= STEP
                    || !candidates.isEmpty() && ticker.getAsLong() - started >= STEP_READ_BUDGET_NANOS) {
                return false;
            }
            looked[0]++;
            from[0] = entry.lastAccessMillis();
            if (!inUse.test(entry.digest())) {
                candidates.add(entry);
                left[0] -= entry.size();
            }
            return true;
        });
        return candidates;
    }

    /** Under the lock: the candidates still to go removed from the index and from the count. */
    private synchronized List<IndexEntry> unindex(List<IndexEntry> candidates, long target, long[] longestLocked) {
        long locked = System.nanoTime();
        try {
            return unindex(candidates, target);
        } finally {
            longestLocked[0] = Math.max(longestLocked[0], System.nanoTime() - locked);
        }
    }

    private List<IndexEntry> unindex(List<IndexEntry> candidates, long target) {
        long left = used.get();
        List<IndexEntry> chosen = new ArrayList<>();
        for (IndexEntry candidate : candidates) {
            if (left <= target) {
                break;
            }
            // Since it was read: served or downloaded again, accessed (a newer position), or
            // evicted by another pass (gone). Its record was just read, so this read is cached.
            if (!inUse.test(candidate.digest()) && metadata.entry(candidate.digest()).equals(Optional.of(candidate))) {
                chosen.add(candidate);
                left -= candidate.size();
            }
        }
        if (chosen.isEmpty()) {
            return chosen;
        }
        try {
            metadata.removeAll(chosen);
        } catch (RuntimeException e) {
            LOG.warn("evicting {} entries failed: {}", chosen.size(), e.toString());
            return List.of();
        }
        for (IndexEntry entry : chosen) {
            used.addAndGet(-entry.size());
        }
        return chosen;
    }

    private long total() {
        long[] sum = {0};
        metadata.forEachEntry(entry -> sum[0] += entry.size());
        return sum[0];
    }
}
