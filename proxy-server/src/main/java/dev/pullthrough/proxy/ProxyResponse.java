package dev.pullthrough.proxy;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.registry.api.ApiError;
import dev.pullthrough.storage.blob.StoredBlob;
import java.nio.channels.FileChannel;
import java.util.Map;

/** What the pull-through services answer, as data; the server turns it into HTTP. */
public sealed interface ProxyResponse {
    /** A manifest: its exact bytes with the media type and digest that belong to them. */
    record Manifest(String mediaType, Digest digest, byte[] bytes, Map<String, String> headers)
            implements ProxyResponse {}

    /** A small JSON document passed through from upstream (tags, referrers). */
    record Json(int status, String contentType, byte[] body, Map<String, String> headers) implements ProxyResponse {}

    /** A committed blob on disk, opened for the response; the writer closes the channel. */
    record BlobFile(StoredBlob blob, FileChannel channel) implements ProxyResponse {}

    /** A blob still downloading, opened for this client: it reads the growing file as bytes arrive. */
    record BlobStream(BlobDownload download, long size, FileChannel channel) implements ProxyResponse {}

    /** The headers of a blob without its body ({@code HEAD}). */
    record BlobHead(Digest digest, long size) implements ProxyResponse {}

    /** An OCI error, with extra headers such as {@code Retry-After}. */
    record Error(ApiError error, Map<String, String> headers) implements ProxyResponse {}
}
