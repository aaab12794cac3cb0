package dev.pullthrough.proxy;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.registry.api.ApiError;
import dev.pullthrough.registry.api.ByteRange;
import dev.pullthrough.storage.blob.StoredBlob;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.util.Map;
import java.util.Optional;

/** What the pull-through services answer, as data; the server turns it into HTTP. */
public sealed interface ProxyResponse {
    /** A manifest: its exact bytes with the media type and digest that belong to them, and whether the cache had them. */
    record Manifest(String mediaType, Digest digest, byte[] bytes, boolean fromCache, Map<String, String> headers)
            implements ProxyResponse {}

    /** A small JSON document passed through from upstream (tags, referrers). */
    record Json(int status, String contentType, byte[] body, Map<String, String> headers) implements ProxyResponse {}

    /**
     * A committed blob on disk, opened for the response (all of it, or one range); the writer closes
     * the channel and calls {@code release} (the blob may be evicted again) when the response is done.
     */
    record BlobFile(StoredBlob blob, FileChannel channel, Optional<ByteRange> range, Runnable release) implements ProxyResponse {}

    /**
     * A blob streamed straight from the upstream to this one client, because the cache cannot store
     * it (disk full or unwritable): hashed on the way, its last bytes held back until verified.
     */
    record BlobPassThrough(Digest digest, long size, InputStream body) implements ProxyResponse {}

    /** A blob still downloading, opened for this client: it reads the growing file (or one range) as bytes arrive. */
    record BlobStream(BlobDownload download, long size, FileChannel channel, Optional<ByteRange> range)
            implements ProxyResponse {}

    /** The headers of a blob without its body ({@code HEAD}). */
    record BlobHead(Digest digest, long size) implements ProxyResponse {}

    /** An OCI error, with extra headers such as {@code Retry-After}. */
    record Error(ApiError error, Map<String, String> headers) implements ProxyResponse {}
}
