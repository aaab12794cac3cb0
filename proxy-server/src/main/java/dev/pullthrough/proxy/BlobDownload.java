package dev.pullthrough.proxy;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.registry.api.ErrorCode;
import dev.pullthrough.storage.blob.BlobStore;
import dev.pullthrough.storage.blob.BlobWriter;
import dev.pullthrough.storage.blob.StoredBlob;
import java.io.IOException;
import dev.pullthrough.config.UpstreamTimeouts;
import dev.pullthrough.upstream.BlobBody;
import dev.pullthrough.upstream.UpstreamResult;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArraySet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one upstream download of a blob, shared by every client that asks for it meanwhile. The body
 * streams into a temp file; readers follow the growing file from their own offset. The last byte is
 * held back until the digest is verified, so no client ever holds a complete body of wrong bytes:
 * on a failure every reader is aborted and nothing is committed.
 */
public final class BlobDownload implements Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(BlobDownload.class);
    /** Matches the upstream client's read size: fewer, larger writes, hashes and reader wake-ups. */
    private static final int CHUNK = 256 * 1024;

    private final Target target;
    private final Digest digest;
    private final BlobStore store;
    private final Runnable onFinish;
    private final CompletableFuture<Long> started = new CompletableFuture<>();
    private final CompletableFuture<StoredBlob> done = new CompletableFuture<>();
    private final Set<Runnable> listeners = new CopyOnWriteArraySet<>();
    private volatile long size = -1;
    private volatile long written;
    private volatile boolean verified;
    private volatile boolean committed;
    private volatile Throwable failure;
    private volatile long windowStartNanos = System.nanoTime();
    private volatile long windowStartBytes;
    /** Why the download was aborted as too slow, or null. */
    private volatile String tooSlow;
    private volatile InputStream body;
    private BlobWriter writer;
    private StoredBlob stored;

    private final LongConsumer makeRoom;
    private final Consumer<StoredBlob> onCommit;

    /**
     * @param makeRoom called with the blob's size before it is written, to trim the cache first
     * @param onCommit called once the blob is verified and committed
     * @param onFinish called when the download ended, either way
     */
    BlobDownload(Target target, Digest digest, BlobStore store, LongConsumer makeRoom, Consumer<StoredBlob> onCommit,
                 Runnable onFinish) {
        this.target = target;
        this.digest = digest;
        this.store = store;
        this.makeRoom = makeRoom;
        this.onCommit = onCommit;
        this.onFinish = onFinish;
    }

    public Digest digest() {
        return digest;
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

    /** How many bytes a reader may send now: all when verified, otherwise all but the last. */
    public long readable() {
        if (verified) {
            return size;
        }
        long known = size;
        return known < 0 ? 0 : Math.max(0, Math.min(written, known - 1));
    }

    /** The reason the download failed, or null while it has not. */
    public Throwable failure() {
        return failure;
    }

    /** Opens the bytes for reading: the temp file while downloading, the committed blob after. */
    public synchronized FileChannel openForReading() throws IOException {
        if (failure != null) {
            throw new IOException("download of " + digest + " failed", failure);
        }
        return FileChannel.open(committed ? stored.path() : writer.tempFile(), StandardOpenOption.READ);
    }

    /** Called (on the download thread) whenever more bytes became readable or the download ended. */
    public void addListener(Runnable listener) {
        listeners.add(listener);
    }

    public void removeListener(Runnable listener) {
        listeners.remove(listener);
    }

    @Override
    public void run() {
        try {
            download();
        } catch (Throwable e) {
            fail(e);
        } finally {
            onFinish.run();
            notifyListeners();
        }
    }

    private void download() throws IOException {
        String what = "blob " + digest + " of " + target.repository();
        UpstreamResult<BlobBody> answer = target.upstream().blob(target.repository(), digest).join();
        windowStartNanos = System.nanoTime();
        if (answer instanceof UpstreamResult.Refused<BlobBody> refused) {
            throw new UpstreamStatusException(UpstreamErrors.forRefusal(refused.refusal(), ErrorCode.BLOB_UNKNOWN, what,
                    target.upstreamName()));
        }
        try (BlobBody response = ((UpstreamResult.Ok<BlobBody>) answer).value(); InputStream body = response.bytes()) {
            this.body = body;
            long length = response.size();
            openWriter(length);
            if (length >= 0) {
                size = length;
                started.complete(length);
            }
            copy(body, length);
        }
        writer.verify();
        if (size < 0) {
            size = written;
        }
        // Readers may send the last bytes now; the fsync and rename that follow need not hold them.
        verified = true;
        notifyListeners();
        synchronized (this) {
            stored = writer.commit();
            committed = true;
        }
        started.complete(size);
        onCommit.accept(stored);
        done.complete(stored);
    }

    /** A temp file for the download, unless the disk is full or unwritable: then the blob is passed through. */
    private void openWriter(long length) throws IOException {
        if (length > 0) {
            makeRoom.accept(length);
        }
        try {
            if (length >= 0 && !store.hasRoomFor(length)) {
                throw new StorageUnavailableException("no room on disk for blob " + digest + " (" + length + " bytes)", null);
            }
            synchronized (this) {
                writer = store.newWriter(digest);
            }
        } catch (StorageUnavailableException e) {
            throw e;
        } catch (IOException e) {
            throw new StorageUnavailableException("cannot create a temp file for blob " + digest + ": " + e, e);
        }
    }

    private void copy(InputStream body, long length) throws IOException {
        byte[] buffer = new byte[CHUNK];
        ByteBuffer wrapped = ByteBuffer.wrap(buffer);
        int n;
        while ((n = body.read(buffer)) >= 0) {
            wrapped.clear().limit(n);
            writer.write(wrapped);
            written = writer.written();
            if (length >= 0 && written > length) {
                throw new IOException("upstream sent more than its Content-Length of " + length);
            }
            notifyListeners();
        }
        if (length >= 0 && written != length) {
            throw new IOException("upstream ended after " + written + " of " + length + " bytes");
        }
    }

    /**
     * Aborts a download whose upstream sends slower than its {@code blobMinRate} over a whole
     * {@code blobRateWindow} (a trickle holds a download slot and every reader as surely as
     * silence does); the JDK client has no read timeout for a streamed body. Called periodically.
     */
    void abortIfTooSlow(long nowNanos) {
        InputStream current = body;
        if (current == null || committed || failure != null) {
            return;
        }
        UpstreamTimeouts limits = target.upstream().config().timeouts();
        long elapsed = nowNanos - windowStartNanos;
        if (elapsed < limits.blobRateWindow().toNanos()) {
            return;
        }
        long sent = written - windowStartBytes;
        long floor = limits.blobMinRate() * limits.blobRateWindow().toSeconds();
        if (sent >= floor) {
            windowStartNanos = nowNanos;
            windowStartBytes = written;
            return;
        }
        tooSlow = "upstream " + target.upstreamName() + " sent " + sent + " bytes of blob " + digest + " in "
                + limits.blobRateWindow().toSeconds() + "s, below upstreams[].blobMinRate (" + limits.blobMinRate() + " B/s)";
        LOG.warn("{}; aborting", tooSlow);
        try {
            current.close();
        } catch (IOException ignored) {
            // the reading thread sees the failure
        }
    }

    private void fail(Throwable thrown) {
        Throwable e = tooSlow == null ? thrown : new UpstreamStatusException(UpstreamErrors.error(ErrorCode.UPSTREAM_TIMEOUT,
                tooSlow));
        synchronized (this) {
            failure = e;
            if (writer != null) {
                writer.abort();
            }
        }
        started.completeExceptionally(e);
        done.completeExceptionally(e);
        if (e instanceof StorageUnavailableException) {
            LOG.error("{}; serving it straight from upstream {} without caching", e.getMessage(), target.upstreamName());
        } else if (!(e instanceof UpstreamStatusException)) {
            LOG.warn("fetching blob {} of {} from {} failed after {} bytes: {}",
                    digest, target.repository(), target.upstreamName(), written, e.toString());
        }
    }

    private void notifyListeners() {
        for (Runnable listener : listeners) {
            listener.run();
        }
    }
}
