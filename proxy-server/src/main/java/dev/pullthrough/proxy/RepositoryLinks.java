package dev.pullthrough.proxy;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.registry.api.ErrorCode;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.upstream.Refusal;
import dev.pullthrough.upstream.UpstreamResult;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * The shared cache serves a digest under a repository only once the upstream said that repository
 * holds it: a private repository's blobs and manifests must not leak through the cache to a client
 * who names another repository. One {@code HEAD} (free on Docker Hub) decides, and is remembered.
 */
final class RepositoryLinks {
    private RepositoryLinks() {}

    /**
     * Completes empty when the cached digest may be served for the target's repository: linked
     * already, confirmed now, offline, or the upstream cannot be reached at all and the digest came
     * through this same upstream (availability over the check, within one upstream's trust). An
     * upstream that answers 429 or 5xx declined to decide: that is not a yes, and the client gets
     * that answer. Otherwise the error the upstream's refusal maps to. {@code head} asks the upstream;
     * what follows its answer runs on {@code blocking} (it writes the metadata store).
     */
    static CompletableFuture<Optional<ProxyResponse>> check(MetadataStore metadata, Target target, Digest digest,
                                                            boolean offline, Supplier<CompletableFuture<? extends UpstreamResult<?>>> head,
                                                            ErrorCode notFound, String what, Executor blocking) {
        String repository = target.repository().value();
        if (offline || metadata.linked(target.upstreamName(), repository, digest)) {
            return CompletableFuture.completedFuture(Optional.empty());
        }
        return head.get().thenApplyAsync(answer -> {
            if (answer instanceof UpstreamResult.Ok) {
                metadata.link(target.upstreamName(), repository, digest);
                return Optional.<ProxyResponse>empty();
            }
            UpstreamResult.Refused<?> refused = (UpstreamResult.Refused<?>) answer;
            if (refused.refusal().isUnreachable()) {
                return unreachable(metadata, target, digest, notFound, what, refused.refusal());
            }
            return Optional.of(UpstreamErrors.forRefusal(refused.refusal(), notFound, what, target.upstreamName()));
        }, blocking);
    }

    /**
     * Issue 26: an upstream that cannot be reached vouches for nothing, so the cache may serve only
     * what was fetched through (or confirmed by) that same upstream. A digest cached from another
     * upstream, perhaps with that upstream's credentials, is not served under this one's name.
     */
    private static Optional<ProxyResponse> unreachable(MetadataStore metadata, Target target, Digest digest,
                                                       ErrorCode notFound, String what, Refusal why) {
        if (metadata.linkedThrough(target.upstreamName(), digest)) {
            return Optional.empty();
        }
        return Optional.of(UpstreamErrors.error(notFound, what + " was never fetched through upstream "
                + target.upstreamName() + ", which cannot be reached to say whether the repository holds it ("
                + reason(why) + ")"));
    }

    private static String reason(Refusal why) {
        if (why instanceof Refusal.Unavailable unavailable) {
            return unavailable.reason();
        }
        return why instanceof Refusal.TimedOut timedOut ? timedOut.reason() : why.getClass().getSimpleName();
    }
}
