package dev.pullthrough.proxy;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.registry.api.ErrorCode;
import dev.pullthrough.storage.meta.MetadataStore;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.util.Optional;

/**
 * The shared cache serves a digest under a repository only once the upstream said that repository
 * holds it: a private repository's blobs and manifests must not leak through the cache to a client
 * who names another repository. One {@code HEAD} (free on Docker Hub) decides, and is remembered.
 */
final class RepositoryLinks {
    /** The upstream HEAD that asks whether the repository holds the digest. */
    interface Head {
        HttpResponse<?> send() throws IOException;
    }

    private RepositoryLinks() {}

    /**
     * Empty when the cached digest may be served for the target's repository: linked already,
     * confirmed now, offline, or the upstream cannot answer (availability over the check).
     * Otherwise the error the upstream's refusal maps to.
     */
    static Optional<ProxyResponse> check(MetadataStore metadata, Target target, Digest digest, boolean offline,
                                         Head head, ErrorCode notFound, String what) {
        String repository = target.repository().value();
        if (offline || metadata.linked(target.upstreamName(), repository, digest)) {
            return Optional.empty();
        }
        HttpResponse<?> answer;
        try {
            answer = head.send();
        } catch (IOException e) {
            return Optional.empty();
        }
        if (answer.statusCode() == 200) {
            metadata.link(target.upstreamName(), repository, digest);
            return Optional.empty();
        }
        if (UpstreamErrors.isOutage(answer.statusCode())) {
            return Optional.empty();
        }
        return Optional.of(UpstreamErrors.forStatus(answer.statusCode(), answer.headers(), notFound, what, target.upstreamName()));
    }
}
