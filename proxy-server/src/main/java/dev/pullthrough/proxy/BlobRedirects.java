package dev.pullthrough.proxy;

import dev.pullthrough.oci.Digest;
import java.net.URI;
import java.util.Optional;

/**
 * Where a client may fetch a blob instead of from this proxy ({@code storage.s3.redirect}): a URL
 * for the repository's blob, or empty when the proxy serves it itself. Blocking.
 */
public interface BlobRedirects {
    Optional<URI> locate(Target target, Digest digest);

    /** No redirects: every blob is served by the proxy. */
    BlobRedirects NONE = (target, digest) -> Optional.empty();
}
