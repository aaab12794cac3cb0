package dev.pullthrough.upstream;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.InvalidDigestException;
import dev.pullthrough.oci.RepositoryName;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An upstream with its {@code fallback} sources behind it (issue 27): what is addressed by digest
 * (blobs, manifests by digest) is asked of the sources in order when the upstream fails (an
 * {@linkplain Refusal#isOutage() outage}: unreachable, silent, 5xx, 429, or refusing the proxy's
 * credentials). Its other answers (404, 401, 403, a 4xx of its own) are its word about the thing and
 * go to the client as they are. Each source is asked for the same repository name the upstream was,
 * with its own url, credentials, CA and egress; its own fallbacks are not followed (one level, so no
 * cycle). A source's bytes are verified against the digest before they count: a manifest at once, a
 * blob at its end, and a source that sent wrong bytes for a digest is passed over for that digest
 * for a while, so the client's retry reaches the next one. Tags stay the upstream's: {@link #borrowTag}
 * only answers when asked, which the manifest service does when the upstream fails and nothing is cached.
 */
public final class FallbackUpstream extends ForwardingUpstream {
    private static final Logger LOG = LoggerFactory.getLogger(FallbackUpstream.class);
    /** How long a source that sent wrong bytes for a digest is not asked for it again. */
    private static final Duration BAD_SOURCE_MEMORY = Duration.ofHours(1);

    private final List<Upstream> sources;
    private final Metrics metrics;
    /** "digest source" of sources that sent bytes not matching the digest. */
    private final Cache<String, Boolean> badSources = Caffeine.newBuilder()
            .expireAfterWrite(BAD_SOURCE_MEMORY).maximumSize(10_000).build();

    /** {@code sources}: the fallbacks' own clients, unwrapped, in the configured order. */
    public FallbackUpstream(Upstream upstream, List<? extends Upstream> sources, Metrics metrics) {
        super(upstream);
        this.sources = List.copyOf(sources);
        this.metrics = metrics;
        for (Upstream source : this.sources) {
            // Every configured pair exists from the start, at 0 (Prometheus practice).
            metrics.fallbackBlobBytes(config().name(), source.config().name(), 0);
            metrics.fallbackManifests(config().name(), source.config().name(), "digest", 0);
            metrics.fallbackManifests(config().name(), source.config().name(), "tag", 0);
        }
    }

    /** {@code upstream} with its configured fallbacks among {@code all} behind it; {@code upstream} itself when it has none. */
    public static Upstream around(Upstream upstream, List<? extends Upstream> all, Metrics metrics) {
        List<String> names = upstream.config().fallback();
        if (names.isEmpty()) {
            return upstream;
        }
        List<Upstream> sources = names.stream()
                .map(name -> all.stream().filter(u -> u.config().name().equals(name)).findFirst().<Upstream>map(u -> u)
                        .orElseThrow(() -> new IllegalStateException("fallback " + name + " is not configured (validated at load)")))
                .toList();
        return new FallbackUpstream(upstream, sources, metrics);
    }

    @Override
    public CompletableFuture<UpstreamResult<BlobBody>> blob(RepositoryName name, Digest digest) {
        return orSources(upstream.blob(name, digest), digest, source -> source.blob(name, digest),
                (source, body) -> Optional.of(verifying(source, digest, body)));
    }

    @Override
    public CompletableFuture<UpstreamResult<Long>> headBlob(RepositoryName name, Digest digest) {
        return orSources(upstream.headBlob(name, digest), digest, source -> source.headBlob(name, digest),
                (source, size) -> Optional.of(size));
    }

    @Override
    public CompletableFuture<UpstreamResult<ManifestBody>> manifest(RepositoryName name, String reference, List<String> accept) {
        Optional<Digest> digest = digest(reference);
        if (digest.isEmpty()) {
            return upstream.manifest(name, reference, accept); // a tag: the upstream's word alone
        }
        return orSources(upstream.manifest(name, reference, accept), digest.get(),
                source -> source.manifest(name, reference, accept),
                (source, body) -> verified(source, digest.get(), body));
    }

    @Override
    public CompletableFuture<UpstreamResult<ManifestHead>> headManifest(RepositoryName name, String reference,
                                                                      List<String> accept) {
        Optional<Digest> digest = digest(reference);
        if (digest.isEmpty()) {
            return upstream.headManifest(name, reference, accept);
        }
        return orSources(upstream.headManifest(name, reference, accept), digest.get(),
                source -> source.headManifest(name, reference, accept), (source, head) -> Optional.of(head));
    }

    @Override
    public CompletableFuture<Optional<Borrowed>> borrowTag(RepositoryName name, String tag, List<String> accept) {
        return borrowFrom(0, name, tag, accept);
    }

    // ---------------------------------------------------------------- content by digest

    /**
     * The upstream's answer, unless it is an outage: then the first source's answer that {@code take}
     * accepts; the upstream's own refusal when no source has it.
     */
    private <T> CompletableFuture<UpstreamResult<T>> orSources(CompletableFuture<UpstreamResult<T>> own, Digest digest,
            Function<Upstream, CompletableFuture<UpstreamResult<T>>> ask, BiFunction<Upstream, T, Optional<T>> take) {
        return own.thenCompose(answer -> answer instanceof UpstreamResult.Refused<T> refused && refused.refusal().isOutage()
                ? fromSource(0, digest, ask, take, answer)
                : CompletableFuture.completedFuture(answer));
    }

    private <T> CompletableFuture<UpstreamResult<T>> fromSource(int index, Digest digest,
            Function<Upstream, CompletableFuture<UpstreamResult<T>>> ask, BiFunction<Upstream, T, Optional<T>> take,
            UpstreamResult<T> own) {
        if (index == sources.size()) {
            return CompletableFuture.completedFuture(own);
        }
        Upstream source = sources.get(index);
        if (badSources.getIfPresent(badKey(digest, source)) != null) {
            return fromSource(index + 1, digest, ask, take, own);
        }
        return ask.apply(source)
                .handle((answer, failure) -> answer instanceof UpstreamResult.Ok<T> ok ? take.apply(source, ok.value()) : Optional.<T>empty())
                .thenCompose(taken -> taken.isPresent()
                        ? CompletableFuture.completedFuture(UpstreamResult.ok(taken.get()))
                        : fromSource(index + 1, digest, ask, take, own));
    }

    /** A source's manifest by digest, when its bytes hash to it; else that source is passed over for it. */
    private Optional<ManifestBody> verified(Upstream source, Digest digest, ManifestBody body) {
        if (!digest.matches(body.bytes())) {
            body.close();
            wrongBytes(source, digest);
            return Optional.empty();
        }
        metrics.fallbackManifests(config().name(), source.config().name(), "digest", 1);
        return Optional.of(body);
    }

    /**
     * A source's blob body, hashed as it passes: counted once it proves right; cut at its end when it
     * does not (the download then commits nothing and no client holds the whole body) and the source
     * is passed over for this digest, so the client's retry goes to the next one.
     */
    private BlobBody verifying(Upstream source, Digest digest, BlobBody body) {
        String sourceName = source.config().name();
        return new BlobBody(body.size(), new VerifiedBodySource(body, digest, sourceName,
                bytes -> metrics.fallbackBlobBytes(config().name(), sourceName, bytes),
                () -> wrongBytes(source, digest)));
    }

    private void wrongBytes(Upstream source, Digest digest) {
        badSources.put(badKey(digest, source), Boolean.TRUE);
        LOG.warn("fallback {} of upstream {} sent bytes that do not hash to {}; it is not asked for that digest for {}",
                source.config().name(), config().name(), digest, BAD_SOURCE_MEMORY);
    }

    private static String badKey(Digest digest, Upstream source) {
        return digest + " " + source.config().name();
    }

    // ---------------------------------------------------------------- tags

    private CompletableFuture<Optional<Borrowed>> borrowFrom(int index, RepositoryName name, String tag, List<String> accept) {
        if (index == sources.size()) {
            return CompletableFuture.completedFuture(Optional.empty());
        }
        Upstream source = sources.get(index);
        return source.manifest(name, tag, accept)
                .handle((answer, failure) -> answer instanceof UpstreamResult.Ok<ManifestBody> ok
                        ? selfConsistent(source, ok.value()) : Optional.<Borrowed>empty())
                .thenCompose(borrowed -> borrowed.isPresent()
                        ? CompletableFuture.completedFuture(borrowed)
                        : borrowFrom(index + 1, name, tag, accept));
    }

    /** A source's tag answer, when the digest it declares (if any) is that of its bytes. */
    private Optional<Borrowed> selfConsistent(Upstream source, ManifestBody body) {
        Optional<Digest> declared = body.declaredDigest().flatMap(FallbackUpstream::digest);
        if (body.declaredDigest().isPresent() && (declared.isEmpty() || !declared.get().matches(body.bytes()))) {
            body.close();
            return Optional.empty();
        }
        metrics.fallbackManifests(config().name(), source.config().name(), "tag", 1);
        return Optional.of(new Borrowed(source.config().name(), body));
    }

    private static Optional<Digest> digest(String reference) {
        if (!reference.contains(":")) {
            return Optional.empty();
        }
        try {
            return Optional.of(Digest.parse(reference));
        } catch (InvalidDigestException e) {
            return Optional.empty();
        }
    }
}
