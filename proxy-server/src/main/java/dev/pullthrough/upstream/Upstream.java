package dev.pullthrough.upstream;

import dev.pullthrough.config.UpstreamConfig;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.RepositoryName;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * One upstream registry as the pull-through decisions see it: one method per endpoint of the pull
 * API, each completing with a typed answer or a typed {@link Refusal}, never an HTTP status or header.
 * Nothing waits on a thread for an answer; every wait is bounded by the upstream's timeouts.
 */
public interface Upstream {
    UpstreamConfig config();

    /** {@code GET /v2/<name>/manifests/<reference>} with the client's {@code Accept} values as sent. */
    CompletableFuture<UpstreamResult<ManifestBody>> manifest(RepositoryName name, String reference, List<String> accept);

    /** {@code HEAD /v2/<name>/manifests/<reference>}: free on Docker Hub. */
    CompletableFuture<UpstreamResult<ManifestHead>> headManifest(RepositoryName name, String reference, List<String> accept);

    /** {@code GET /v2/<name>/blobs/<digest>}, redirects followed; the caller closes the body. */
    CompletableFuture<UpstreamResult<BlobBody>> blob(RepositoryName name, Digest digest);

    /** {@code HEAD /v2/<name>/blobs/<digest>}: the blob's size, without a download. */
    CompletableFuture<UpstreamResult<Long>> headBlob(RepositoryName name, Digest digest);

    /** A small JSON endpoint under the repository, e.g. {@code tags/list?n=10}; {@code kind} names it for metrics. */
    CompletableFuture<UpstreamResult<Listing>> listing(RepositoryName name, String pathAndQuery, String kind);

    /**
     * A tag's manifest as one of this upstream's {@code fallback} sources answers it, for when this
     * upstream fails and nothing is cached (issue 27): the first source that answers, with its name;
     * empty when there are none or none does.
     */
    default CompletableFuture<Optional<Borrowed>> borrowTag(RepositoryName name, String tag, List<String> accept) {
        return CompletableFuture.completedFuture(Optional.empty());
    }

    /** A tag's manifest from a fallback {@code source}, not this upstream's own word; the taker closes the body. */
    record Borrowed(String source, ManifestBody body) {}
}
