package dev.pullthrough.proxy;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.registry.api.ErrorCode;
import dev.pullthrough.storage.blob.BlobStore;
import dev.pullthrough.storage.blob.BlobWriter;
import dev.pullthrough.storage.blob.StoredBlob;
import dev.pullthrough.storage.maintenance.CacheJanitor;
import dev.pullthrough.upstream.BlobBody;
import dev.pullthrough.upstream.BodySink;
import dev.pullthrough.upstream.UpstreamResult;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one upstream download of a blob, shared by every client that asks for it meanwhile. The body
 * arrives in chunks from the transport's event loop and is written and hashed on two serial
 * executors of the download's own, side by side: the event loop never waits on the disk, the socket
 * is read on while the disk writes (up to the transport's window), and the file does not wait for
 * the hash nor the hash for the file. Readers send each chunk from memory while it is held for the
 * hash and the file ({@link HeldChunks}), and follow the growing temp file from their own offset
 * when they fall behind: so a big blob's file is written past the page cache where the disk allows
 * (the cost of filling new page cache was what a lone cold client waited for, issue 28).
 * The last byte is held back until the digest is verified, so no client ever holds a complete body
 * of wrong bytes: on a failure every reader is aborted and nothing is committed. Room in the cache
 * is reserved before bytes are written, and only for a blob the cache takes: its size decides
 * before anything is evicted for it (issue 26). A small body ({@link #WHOLE_BODY_LIMIT}) is gathered
 * in memory instead and then written, hashed, verified, answered, committed and recorded in one
 * task: one hand-off from the event loop and one metadata write per blob (issue 28).
 */
public final class BlobDownload implements BodySink, GrowingBlob {
    private static final Logger LOG = LoggerFactory.getLogger(BlobDownload.class);
    /**
     * How much more room a download reserves each time its bytes outgrow what it holds (at most; a
     * small cache steps by 1/32 of the largest blob it takes): room is made, evicting if need be, for
     * bytes as they arrive, never for what an upstream only declares.
     */
    static final long RESERVATION_STEP = 4L << 20;
    /**
     * A body of at most this many bytes is gathered whole before anything is written. Its clients get
     * their answer once it is all there and verified, which costs them nothing: it fits a TCP initial
     * window (10 segments of 1,448 bytes, RFC 6928), so the upstream sends it in one burst with its
     * headers. Per blob that saves hand-offs between threads (answer, write, hash, verify, commit:
     * three to five per 1 KiB blob before, 61 for 20 in SmallBlobHandOffTest) and a metadata write.
     */
    static final long WHOLE_BODY_LIMIT = 8 * 1024;
    /** From this many readers on, a download writes its file through the page cache (see {@link #crowdJoined}). */
    static final int CROWD = 2;
    /**
     * A lone reader that the download waits for must pass at least this many bytes a second (or
     * twice the upstream's {@code blobMinRate}, if more): a slower one is let fall behind to the file,
     * so that neither the upstream's connection nor its rate floor waits on one slow client.
     */
    static final long READER_MIN_RATE = 1L << 20;
    /** A download of at least this many bytes logs where its time went when committed (smaller ones at debug level). */
    static final long STAGES_LOGGED_FROM = 64L << 20;

    /** What a download records in the metadata store: the upstream's word that it holds the blob, and the commit. */
    interface Records {
        /** The upstream answered 200 for the download's repository: it holds the blob there. */
        void held();

        /** The blob was committed: it is indexed now (and counted). */
        void committed(StoredBlob blob);

        /** A whole small body was committed: both records at once, in one write. */
        void heldAndCommitted(StoredBlob blob);
    }

    private final Target target;
    private final Digest digest;
    private final BlobStore store;
    private final Executor writes;
    private final Executor hashes;
    private final Runnable onFinish;
    private final CompletableFuture<Long> started = new CompletableFuture<>();
    private final CompletableFuture<StoredBlob> done = new CompletableFuture<>();
    /** Readers: told when bytes arrive (memory), the file grows, the digest is verified, or the download ends. */
    private final Set<Runnable> listeners = new CopyOnWriteArraySet<>();
    /** Followers of the file only (the bucket upload): told of all that but arrivals, never on the transport's event loop. */
    private final Set<Runnable> fileListeners = new CopyOnWriteArraySet<>();
    private volatile long size = -1;
    private volatile long written;
    /** Bytes received from upstream, written or not. */
    private volatile long received;
    private volatile boolean verified;
    private volatile boolean committed;
    private volatile boolean fromShared;
    private volatile Throwable failure;
    private volatile BlobBody body;
    private final RateFloor floor;
    /** Why the download was aborted as too slow, or null. */
    private volatile String tooSlow;
    private BlobWriter writer;
    private StoredBlob stored;
    /** Room held in the cache for this blob's bytes; null until the upstream answered. */
    private volatile CacheJanitor.Reservation reservation;

    private final CacheJanitor janitor;
    private final Records records;
    private final DownloadStages stages = new DownloadStages();
    /** Chunks not yet both hashed and in the file: what readers at the front copy from. */
    private final HeldChunks held = new HeldChunks();
    /** Chunks appended to the writer but not yet in the file (a direct write's stage); the write executor's own. */
    private final ArrayDeque<HeldChunks.Chunk> awaitingFile = new ArrayDeque<>();
    /** How far the lone reader got, and how far it had got at the last periodic check. */
    private volatile long readerOffset;
    private long readerOffsetChecked = -1;
    /** The body of a small blob, gathered on the transport's event loop; null for a body written as it arrives. */
    private volatile WholeBody whole;

    /**
     * @param writes a serial executor for this download's disk work, in order
     * @param hashes a serial executor for this download's hashing, in order
     * @param janitor reserves room for the blob before its bytes are written (and says whether it fits at all)
     * @param records told when the upstream vouched for the blob and when it was committed
     * @param onFinish called when the download ended, either way
     */
    BlobDownload(Target target, Digest digest, BlobStore store, Executor writes, Executor hashes, CacheJanitor janitor,
                 Records records, Runnable onFinish) {
        this.target = target;
        this.digest = digest;
        this.store = store;
        this.writes = writes;
        this.hashes = hashes;
        this.janitor = janitor;
        this.floor = new RateFloor(target.upstream().config().timeouts(), System.nanoTime());
        this.records = records;
        this.onFinish = onFinish;
    }

    @Override
    public Digest digest() {
        return digest;
    }

    /**
     * Whether the body came from where the cluster shares blobs (the bucket, or another replica
     * that writes it there): known once {@link #sizeKnown} completed.
     */
    public boolean fromShared() {
        return fromShared;
    }

    /** The blob's size once the upstream answered (or, without a declared length, once committed). */
    public CompletableFuture<Long> sizeKnown() {
        return started;
    }

    /** Completes once the blob is verified and committed; fails when the download did. */
    public CompletableFuture<Void> finished() {
        return done.thenApply(blob -> null);
    }

    /**
     * The file being written, while the download runs: what a copy that follows the download reads
     * (through a hard link of its own, which the commit's rename and a later eviction leave alone).
     */
    public synchronized Optional<Path> fileBeingWritten() {
        return writer == null || committed || failure != null ? Optional.empty() : Optional.of(writer.tempFile());
    }

    DownloadProgress progress() {
        return new DownloadProgress(target.upstreamName(), target.repository().value(), digest, received, size, listeners.size());
    }

    /** Whether this download was asked for by {@code other}'s upstream and repository (the upstream vouched for it there). */
    boolean fetchedFor(Target other) {
        return target.upstreamName().equals(other.upstreamName()) && target.repository().equals(other.repository());
    }

    /**
     * Completes with the blob's size once the upstream answered 200 (or, when the upstream sent no
     * length, once the blob is committed); fails with {@link UpstreamStatusException} or an I/O error.
     */
    CompletableFuture<Long> started() {
        return started;
    }

    /** Completes with the committed blob, or fails as the download did. */
    CompletableFuture<StoredBlob> done() {
        return done;
    }

    /**
     * How many bytes a reader may send now: those in the file, except the last byte of the blob
     * until the digest is verified.
     */
    @Override
    public long readable() {
        long inFile = written;
        if (verified) {
            return inFile;
        }
        long known = size;
        return known < 0 ? 0 : Math.max(0, Math.min(inFile, known - 1));
    }

    /**
     * How many bytes a reader may send now from memory or the file: every byte received, except the
     * last one of the blob until the digest is verified. A byte below this that {@link #copyHeld}
     * no longer has is in the file.
     */
    @Override
    public long available() {
        if (whole != null) {
            return readable();
        }
        long got = received;
        if (verified) {
            return got;
        }
        long known = size;
        return known < 0 ? 0 : Math.max(0, Math.min(got, known - 1));
    }

    @Override
    public int copyHeld(long offset, ByteBuffer into) {
        int copied = held.copy(offset, into);
        stages.sentFromMemory(copied);
        return copied;
    }

    @Override
    public boolean lendsHeld() {
        return held.holdingForReader();
    }

    @Override
    public Lent lendHeld(long offset, int max) {
        HeldChunks.Loan loan = held.lend(offset, max);
        if (loan != null) {
            stages.sentFromMemory(loan.bytes().remaining());
        }
        return loan;
    }

    @Override
    public boolean holds(long offset) {
        return held.holds(offset);
    }

    @Override
    public void readerAt(long offset) {
        readerOffset = offset;
        long known = size;
        // At the last byte the reader waits for the digest, which waits for the body's end, which a
        // source may send only once its last chunk went back (the bucket's does): it waits for nobody.
        held.readerAt(known >= 0 && offset >= known - 1 ? Long.MAX_VALUE : offset);
    }

    /** The reason the download failed, or null while it has not. */
    @Override
    public Throwable failure() {
        return failure;
    }

    /** Opens the bytes for reading: the temp file while downloading, the committed blob after. */
    public FileChannel openForReading() throws IOException {
        Path temp;
        synchronized (this) {
            if (failure != null) {
                throw new IOException("download of " + digest + " failed", failure);
            }
            if (committed) {
                return FileChannel.open(stored.path(), StandardOpenOption.READ);
            }
            temp = writer.tempFile();
        }
        try {
            return FileChannel.open(temp, StandardOpenOption.READ);
        } catch (NoSuchFileException renamedMeanwhile) {
            // the commit renames the file before it says so; or the download failed, and this fails too
            return FileChannel.open(writer.targetFile(), StandardOpenOption.READ);
        }
    }

    /**
     * Called whenever bytes arrived, more became readable from the file or the download ended: on
     * the transport's event loop for arrivals, on the download's executors otherwise.
     */
    @Override
    public void addListener(Runnable listener) {
        listeners.add(listener);
        if (followers() == 1) {
            held.holdForReader();
        }
        crowdCheck();
    }

    /**
     * Called whenever more bytes became readable from the file, the digest was verified or the
     * download ended, on the download's executors: for what follows the file and not memory (the
     * bucket upload), which a notice per arrived chunk on the transport's event loop only cost.
     */
    public void addFileListener(Runnable listener) {
        fileListeners.add(listener);
        crowdCheck();
    }

    public void removeFileListener(Runnable listener) {
        fileListeners.remove(listener);
    }

    private int followers() {
        return listeners.size() + fileListeners.size();
    }

    private void crowdCheck() {
        if (followers() >= CROWD) {
            held.stopHoldingForReader();
            writes.execute(this::crowdJoined);
        }
    }

    /**
     * On the write executor, once a second reader follows the download: the rest of the file goes
     * through the page cache. One client is sent from memory and never reads the file, so writing
     * it past the page cache spares filling that cache; but of a crowd most fall behind memory
     * and read the file, and reading it back from the disk cost them more than the page cache
     * costs the writer (issue 28: 20 clients of a cold 512 MiB blob took 6.1-6.9 s against 4.9 s).
     */
    private void crowdJoined() {
        BlobWriter open = writer;
        if (open == null || !open.direct() || failure != null || committed) {
            return;
        }
        try {
            stages.toPageCacheAt(open.appended());
            open.toPageCache();
            inFile(open.written());
        } catch (Throwable e) {
            body.cancel("the download failed: " + e.getMessage());
            fail(e);
            releaseAwaitingFile();
        }
    }

    @Override
    public void removeListener(Runnable listener) {
        listeners.remove(listener);
        held.stopHoldingForReader();
    }

    /** Asks the upstream; nothing waits for its answer. */
    void start() {
        floor.restart(System.nanoTime(), 0);
        target.upstream().blob(target.repository(), digest).whenComplete(this::onAnswer);
    }

    /**
     * Wherever the upstream's answer completes (mostly the transport's event loop): a small body is
     * gathered right here, which touches no disk; everything else goes on on the write executor.
     */
    private void onAnswer(UpstreamResult<BlobBody> answer, Throwable error) {
        if (error == null && answer instanceof UpstreamResult.Ok<BlobBody> ok && WholeBody.fits(ok.value().size())) {
            BlobBody small = ok.value();
            fromShared = small.shared();
            size = small.size();
            whole = new WholeBody((int) small.size());
            body = small;
            floor.restart(System.nanoTime(), received);
            try {
                small.stream(this);
            } catch (RuntimeException e) {
                // Nobody waits on this callback's own future: a throw here would leave the download hanging.
                writes.execute(() -> fail(e));
            }
            return;
        }
        writes.execute(() -> answered(answer, error));
    }

    // ---------------------------------------------------------------- on the download's executor

    private void answered(UpstreamResult<BlobBody> answer, Throwable error) {
        try {
            if (error != null) {
                throw error;
            }
            if (answer instanceof UpstreamResult.Refused<BlobBody> refused) {
                throw new UpstreamStatusException(UpstreamErrors.forRefusal(refused.refusal(), ErrorCode.BLOB_UNKNOWN,
                        "blob " + digest + " of " + target.repository(), target.upstreamName()));
            }
            BlobBody answered = ((UpstreamResult.Ok<BlobBody>) answer).value();
            try {
                openWriter(answered.size());
            } catch (IOException e) {
                answered.cancel("the cache cannot store it");
                throw e;
            }
            records.held();
            fromShared = answered.shared();
            if (answered.size() >= 0) {
                size = answered.size();
                started.complete(answered.size());
            } else {
                // Without a length the clients are answered only once the blob is committed: none reads yet.
                held.stopHoldingForReader();
            }
            floor.restart(System.nanoTime(), received);
            body = answered;
            if (followers() >= CROWD) {
                crowdJoined();
            }
            answered.stream(this);
        } catch (Throwable e) {
            fail(e);
        }
    }

    private void write(ByteBuffer bytes, HeldChunks.Chunk chunk) {
        boolean awaiting = false;
        try {
            if (failure != null) {
                return;
            }
            reserveFor(writer.appended() + bytes.remaining());
            long start = System.nanoTime();
            writer.append(bytes);
            stages.wrote(System.nanoTime() - start);
            if (size >= 0 && writer.appended() > size) {
                throw new IOException("upstream sent more than its Content-Length of " + size);
            }
            if (writer.appended() == size) {
                // The last bytes: into the file now, not at the commit. A source may end the body only
                // once its last chunk went back (the bucket's does), and the commit waits for that end.
                writer.flush();
            }
            awaitingFile.add(chunk);
            awaiting = true;
            inFile(writer.written());
        } catch (Throwable e) {
            body.cancel("the download failed: " + e.getMessage());
            fail(e);
        } finally {
            if (!awaiting) {
                chunk.release();
            }
            if (failure != null) {
                releaseAwaitingFile();
            }
        }
    }

    /** On the write executor: the file holds {@code bytes} now; the chunks it holds all of go back. */
    private void inFile(long bytes) {
        boolean grew = bytes > written;
        written = bytes;
        while (!awaitingFile.isEmpty() && awaitingFile.peek().end() <= bytes) {
            awaitingFile.poll().release();
        }
        if (grew) {
            notifyListeners();
        }
    }

    /** On the write executor, once the download failed: what waited for the file goes back. */
    private void releaseAwaitingFile() {
        while (!awaitingFile.isEmpty()) {
            awaitingFile.poll().release();
        }
    }

    private void hash(ByteBuffer bytes, HeldChunks.Chunk chunk) {
        try {
            if (failure == null) {
                long start = System.nanoTime();
                writer.hash(bytes);
                stages.hashed(System.nanoTime() - start);
            }
        } finally {
            chunk.release();
        }
    }

    /**
     * On the hash executor, once every chunk is hashed: the digest decides, and readers may send the
     * last byte as soon as the file has it, while the fsync runs.
     */
    private void hashed() {
        if (failure != null) {
            return;
        }
        try {
            long total = received;
            if (size >= 0 && total != size) {
                throw new IOException("upstream ended after " + total + " of " + size + " bytes");
            }
            writer.verify();
            if (size < 0) {
                size = total;
            }
            verified = true;
            stages.verified(System.nanoTime());
            notifyListeners();
            writes.execute(this::commit);
        } catch (Throwable e) {
            fail(e);
        }
    }

    /**
     * On the write executor, the one task of a small body, once all of it arrived: written, hashed
     * and verified, its clients answered (they read the whole verified file while the fsync runs),
     * then committed with its records in one write.
     */
    private void storeWhole(WholeBody gathered) {
        if (failure != null) {
            return;
        }
        try {
            if (!gathered.complete()) {
                throw new IOException("upstream ended after " + received + " of " + size + " bytes");
            }
            openWriter(size);
            reserveFor(size);
            writer.write(gathered.bytes());
            written = writer.written();
            writer.verify();
            verified = true;
            started.complete(size);
            commit();
        } catch (Throwable e) {
            fail(e);
        }
    }

    /** On the write executor, once every chunk is in the file: fsync and rename, then the blob is the cache's. */
    private void commit() {
        if (failure != null) {
            return;
        }
        try {
            // Not under this object's lock: the fsync takes a while, and clients joining meanwhile take the lock.
            StoredBlob blob = writer.commit();
            synchronized (this) {
                stored = blob;
                committed = true;
            }
            inFile(blob.size());
            started.complete(size);
            if (whole != null) {
                records.heldAndCommitted(stored);
            } else {
                records.committed(stored);
            }
            // Indexed now: the reservation becomes what the index counts, in one step.
            reservation.settle(stored.size());
            done.complete(stored);
            logStages();
            ended();
        } catch (Throwable e) {
            fail(e);
        }
    }

    /** Where a big download's time went: the upstream, the disk or the hash (issue 28). */
    private void logStages() {
        if (whole != null || stages.chunks() == 0) {
            return;
        }
        if (size >= STAGES_LOGGED_FROM) {
            LOG.info("fetched blob {} of {} from {}: {}", digest, target.repository(), target.upstreamName(), stages.describe(size));
        } else if (LOG.isDebugEnabled()) {
            LOG.debug("fetched blob {} of {} from {}: {}", digest, target.repository(), target.upstreamName(), stages.describe(size));
        }
    }

    // ---------------------------------------------------------------- the body, from the transport's event loop

    @Override
    public void onBytes(ByteBuffer bytes, Runnable consumed) {
        WholeBody gathering = whole;
        if (gathering != null) {
            gather(gathering, bytes, consumed);
            return;
        }
        long offset = received;
        // Held before it counts as received: a reader never finds a received byte in neither place.
        HeldChunks.Chunk chunk = held.add(offset, bytes, consumed);
        received = offset + bytes.remaining(); // only the transport's event loop adds
        stages.read(System.nanoTime());
        ByteBuffer forHash = bytes.duplicate();
        hashes.execute(() -> hash(forHash, chunk));
        writes.execute(() -> write(bytes, chunk));
        notify(listeners); // readers copy from memory; file followers would find nothing new
    }

    @Override
    public void readsWaited(long nanos) {
        stages.readsWaited(nanos);
    }

    @Override
    public void onEnd() {
        WholeBody gathered = whole;
        if (gathered != null) {
            writes.execute(() -> storeWhole(gathered)); // the one hand-off of a small blob
            return;
        }
        // After every chunk was hashed; the commit follows every chunk written.
        hashes.execute(this::hashed);
    }

    /** A chunk of a small body: copied (a few KiB) and given back at once; more than declared ends the download. */
    private void gather(WholeBody gathering, ByteBuffer bytes, Runnable consumed) {
        int length = bytes.remaining();
        received += length; // only the transport's event loop adds
        boolean fitted;
        try {
            fitted = gathering.add(bytes);
        } finally {
            consumed.run();
        }
        if (!fitted) {
            IOException tooMuch = new IOException("upstream sent more than its Content-Length of " + size);
            writes.execute(() -> fail(tooMuch));
            body.cancel(tooMuch.getMessage());
        }
    }

    @Override
    public void onError(Throwable cause) {
        writes.execute(() -> fail(cause));
    }

    /**
     * A temp file for the download, unless the blob is larger than the cache takes, or the disk is
     * full or unwritable: then the blob is passed through. The declared size decides before anything
     * is evicted for it, and room is then made as the bytes arrive ({@link #reserveFor}): an upstream
     * that declares much and sends little evicts for what it sent, not for what it declared.
     */
    private void openWriter(long length) throws IOException {
        if (length > janitor.largestAdmitted()) {
            throw new BlobNotAdmittedException("blob " + digest + " of " + target.repository() + " declares " + length
                    + " bytes, more than one blob may take of the cache (half of storage.maxSize: "
                    + janitor.largestAdmitted() + " bytes)");
        }
        reservation = janitor.reserve(0).orElseThrow();
        try {
            if (length >= 0 && !store.hasRoomFor(length)) {
                throw new StorageUnavailableException("no room on disk for blob " + digest + " (" + length + " bytes)", null);
            }
            synchronized (this) {
                writer = store.newWriter(digest, length);
            }
        } catch (StorageUnavailableException e) {
            throw e;
        } catch (IOException e) {
            throw new StorageUnavailableException("cannot create a temp file for blob " + digest + ": " + e, e);
        }
    }

    /**
     * Holds room for what arrived plus one step, up to the declared size, grown as bytes arrive.
     * A body without a declared length that would pass what one blob may take ends before those
     * bytes are written: nothing is committed, nothing more evicted, and its clients are passed
     * through. They received nothing yet (a download of unknown length answers its clients only
     * once committed), so each of them gets one whole, correct body from the upstream.
     */
    private void reserveFor(long total) throws IOException {
        CacheJanitor.Reservation room = reservation;
        if (total <= room.bytes()) {
            return;
        }
        // What the upstream declared, not size: the hash thread sets that for a body without a
        // length once it has seen all of it, which may be before this thread wrote it.
        long declared = body.size();
        if (declared >= 0 && total > declared) {
            throw new IOException("upstream sent more than its Content-Length of " + declared);
        }
        long limit = declared >= 0 ? declared : janitor.largestAdmitted();
        if (total > limit) {
            throw new BlobNotAdmittedException("blob " + digest + " of " + target.repository() + " came without a length and"
                    + " passed " + limit + " bytes, more than one blob may take of the cache (half of storage.maxSize)");
        }
        long step = Math.min(RESERVATION_STEP, Math.max(1, janitor.largestAdmitted() / 32));
        if (!room.growTo(Math.min(limit, Math.max(total, room.bytes() + step)))) {
            throw new IOException("the download of blob " + digest + " ended meanwhile");
        }
    }

    /**
     * Aborts a download whose upstream sends slower than its {@code blobMinRate} over a whole
     * {@code blobRateWindow}: a trickle holds a download slot and every reader as surely as silence
     * does. Called periodically.
     */
    void abortIfTooSlow(long nowNanos) {
        letSlowReaderFallBehind();
        BlobBody current = body;
        if (current == null || committed || failure != null) {
            return;
        }
        OptionalLong sent = floor.shortfall(nowNanos, received);
        if (sent.isEmpty()) {
            return;
        }
        tooSlow = "upstream " + target.upstreamName() + " " + floor.describe(sent.getAsLong(), "blob " + digest);
        LOG.warn("{}; aborting", tooSlow);
        current.cancel(tooSlow);
    }

    /**
     * Called each second: a lone reader that has bytes waiting for it and passed fewer than
     * {@link #READER_MIN_RATE} bytes since the last call is no longer waited for, from now on.
     */
    private void letSlowReaderFallBehind() {
        if (!held.holdingForReader()) {
            return;
        }
        long at = readerOffset;
        long minimum = Math.max(READER_MIN_RATE, 2 * target.upstream().config().timeouts().blobMinRate());
        if (readerOffsetChecked >= 0 && at - readerOffsetChecked < minimum && received - at > minimum) {
            held.stopHoldingForReader();
        }
        readerOffsetChecked = at;
    }

    /** Ends the download as failed, once, whichever of its executors or the transport saw the failure first. */
    private void fail(Throwable thrown) {
        Throwable e = tooSlow == null ? thrown : new UpstreamStatusException(UpstreamErrors.error(ErrorCode.UPSTREAM_TIMEOUT,
                tooSlow));
        BlobWriter dropped;
        synchronized (this) {
            if (failure != null || committed) {
                return;
            }
            failure = e;
            dropped = writer;
        }
        if (dropped != null) {
            dropped.abort();
            // After any append in flight: a staging buffer is reused only once nothing writes into it.
            writes.execute(() -> {
                releaseAwaitingFile();
                dropped.releaseStage();
            });
        }
        CacheJanitor.Reservation room = reservation;
        if (room != null) {
            room.release();
        }
        started.completeExceptionally(e);
        done.completeExceptionally(e);
        if (e instanceof BlobNotAdmittedException) {
            LOG.warn("{}; passing it through from upstream {} without caching", e.getMessage(), target.upstreamName());
        } else if (e instanceof StorageUnavailableException) {
            LOG.error("{}; serving it straight from upstream {} without caching", e.getMessage(), target.upstreamName());
        } else if (!(e instanceof UpstreamStatusException)) {
            LOG.warn("fetching blob {} of {} from {} failed after {} bytes: {}",
                    digest, target.repository(), target.upstreamName(), written, e.toString());
        }
        ended();
    }

    private void ended() {
        onFinish.run();
        notifyListeners();
    }

    /** The file grew, the digest was verified or the download ended: everyone is told. */
    private void notifyListeners() {
        notify(listeners);
        notify(fileListeners);
    }

    private static void notify(Set<Runnable> told) {
        for (Runnable listener : told) {
            listener.run();
        }
    }
}
