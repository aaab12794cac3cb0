package dev.pullthrough.proxy;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.registry.api.ApiError;
import dev.pullthrough.registry.api.ByteRange;
import dev.pullthrough.storage.blob.StoredBlob;
import dev.pullthrough.upstream.BodyBudget;
import java.io.Closeable;
import java.io.IOException;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.util.Map;
import java.util.Optional;

/**
 * What the pull-through services answer, as plain values; the server turns them into HTTP. Each
 * says its own status, whether the cache answered, how many body bytes it carries and what it holds
 * open, so the server dispatches on the kind once, to write it.
 */
public sealed interface ProxyResponse {
    /** Whether the cache answered a request: the access log's {@code cache=} and the bytes-served metric. */
    enum CacheResult {
        HIT, MISS, NOT_APPLICABLE;

        /** As the access log writes it: hit, miss or -. */
        public String label() {
            return switch (this) {
                case HIT -> "hit";
                case MISS -> "miss";
                case NOT_APPLICABLE -> "-";
            };
        }
    }

    /** The HTTP status. */
    default int status() {
        return 200;
    }

    default CacheResult cacheResult() {
        return CacheResult.NOT_APPLICABLE;
    }

    /** The bytes of the body a GET gets (a HEAD gets none). */
    long bodyBytes();

    /** Lets go of what the response holds open, when it will not be written (the client left). */
    default void release() {}

    /**
     * A manifest: its exact bytes with the media type and digest that belong to them, and whether the
     * cache had them; {@code permit}: the upstream body's share of the {@link BodyBudget}, released
     * once the response is written or dropped.
     */
    record Manifest(String mediaType, Digest digest, byte[] bytes, boolean fromCache, Map<String, String> headers,
                    BodyBudget.Permit permit) implements ProxyResponse {
        public Manifest(String mediaType, Digest digest, byte[] bytes, boolean fromCache, Map<String, String> headers) {
            this(mediaType, digest, bytes, fromCache, headers, BodyBudget.Permit.NONE);
        }

        @Override
        public void release() {
            permit.close();
        }

        @Override
        public CacheResult cacheResult() {
            return fromCache ? CacheResult.HIT : CacheResult.MISS;
        }

        @Override
        public long bodyBytes() {
            return bytes.length;
        }
    }

    /**
     * A small JSON document passed through from upstream (tags, referrers); {@code permit} as for a
     * {@link Manifest}.
     */
    record Json(int status, String contentType, byte[] body, Map<String, String> headers, BodyBudget.Permit permit)
            implements ProxyResponse {
        public Json(int status, String contentType, byte[] body, Map<String, String> headers) {
            this(status, contentType, body, headers, BodyBudget.Permit.NONE);
        }

        @Override
        public void release() {
            permit.close();
        }

        @Override
        public long bodyBytes() {
            return body.length;
        }
    }

    /**
     * A committed blob on disk, opened for the response (all of it, or one range); the writer closes
     * the channel and calls {@code done} (the blob may be evicted again) when the response is done.
     */
    record BlobFile(StoredBlob blob, FileChannel channel, Optional<ByteRange> range, Runnable done) implements ProxyResponse {
        @Override
        public int status() {
            return range.isPresent() ? 206 : 200;
        }

        @Override
        public CacheResult cacheResult() {
            return CacheResult.HIT;
        }

        @Override
        public long bodyBytes() {
            return range.map(ByteRange::length).orElse(blob.size());
        }

        @Override
        public void release() {
            closeQuietly(channel);
            done.run();
        }
    }

    /**
     * A blob streamed straight from the upstream to this one client, because the cache does not take
     * it (too large, disk full or unwritable): hashed on the way, its last bytes held back until
     * verified. {@code size} is -1 when the upstream declared none.
     */
    record BlobPassThrough(PassThrough body) implements ProxyResponse {
        public Digest digest() {
            return body.digest();
        }

        public long size() {
            return body.size();
        }

        @Override
        public CacheResult cacheResult() {
            return CacheResult.MISS;
        }

        @Override
        public long bodyBytes() {
            return Math.max(0, body.size());
        }

        @Override
        public void release() {
            body.cancel("the response to the client ended");
        }
    }

    /** A blob still downloading, opened for this client: it reads the growing file (or one range) as bytes arrive. */
    record BlobStream(GrowingBlob blob, long size, FileChannel channel, Optional<ByteRange> range) implements ProxyResponse {
        @Override
        public int status() {
            return range.isPresent() ? 206 : 200;
        }

        @Override
        public CacheResult cacheResult() {
            return CacheResult.MISS;
        }

        @Override
        public long bodyBytes() {
            return range.map(ByteRange::length).orElse(size);
        }

        @Override
        public void release() {
            closeQuietly(channel);
        }
    }

    /** The headers of a blob without its body ({@code HEAD}). */
    record BlobHead(Digest digest, long size) implements ProxyResponse {
        @Override
        public long bodyBytes() {
            return 0;
        }
    }

    /**
     * A blob that the client fetches elsewhere: {@code 307} to {@code location} (a presigned URL of
     * the shared bucket), no body from here.
     */
    record Redirect(Digest digest, URI location) implements ProxyResponse {
        @Override
        public int status() {
            return 307;
        }

        @Override
        public CacheResult cacheResult() {
            return CacheResult.HIT;
        }

        @Override
        public long bodyBytes() {
            return 0;
        }
    }

    /** An OCI error, with extra headers such as {@code Retry-After}. */
    record Error(ApiError error, Map<String, String> headers) implements ProxyResponse {
        @Override
        public int status() {
            return error.status();
        }

        @Override
        public long bodyBytes() {
            return error.body().length;
        }
    }

    private static void closeQuietly(Closeable closeable) {
        try {
            closeable.close();
        } catch (IOException ignored) {
            // nothing more to release
        }
    }
}
