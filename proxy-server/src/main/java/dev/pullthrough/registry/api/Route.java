package dev.pullthrough.registry.api;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.Reference;
import dev.pullthrough.oci.RepositoryName;
import java.util.Optional;

/** A request of the pull API, parsed and validated; no Netty types so it tests with plain strings. */
public sealed interface Route {
    /** {@code GET /v2/}: the API version check. */
    record Base() implements Route {}

    /** {@code GET /v2/_catalog?n=&last=}: the repositories this proxy has cached. */
    record Catalog(Optional<Integer> n, Optional<String> last) implements Route {}

    /** {@code GET|HEAD /v2/<name>/manifests/<reference>}. */
    record Manifest(RepositoryName name, Reference reference) implements Route {}

    /** {@code GET|HEAD /v2/<name>/blobs/<digest>}. */
    record Blob(RepositoryName name, Digest digest) implements Route {}

    /** {@code GET /v2/<name>/tags/list?n=&last=}. */
    record Tags(RepositoryName name, Optional<Integer> n, Optional<String> last) implements Route {}

    /** {@code GET /v2/<name>/referrers/<digest>?artifactType=}. */
    record Referrers(RepositoryName name, Digest digest, Optional<String> artifactType) implements Route {}
}
