package dev.pullthrough.proxy;

import dev.pullthrough.oci.Descriptor;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.InvalidManifestException;
import dev.pullthrough.oci.ManifestContent;
import dev.pullthrough.oci.Reference;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.meta.StoredManifest;
import dev.pullthrough.storage.meta.TagKey;
import dev.pullthrough.storage.meta.TagResolution;
import dev.pullthrough.upstream.ManifestHead;
import dev.pullthrough.upstream.UpstreamResult;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a list of images current ({@code warm}): every interval, one HEAD per tag upstream (free on
 * Docker Hub); a tag that moved, or is not cached whole (a layer evicted), is fetched with every
 * platform (one GET). So an air-gapped site or an upstream outage finds them current. An image by
 * digest never moves: it is fetched when it is not cached whole.
 */
public final class KeepWarm {
    private static final Logger LOG = LoggerFactory.getLogger(KeepWarm.class);

    /** What one run did for one image: {@code unchanged}, {@code fetched} or {@code failed: why}. */
    public record Outcome(String image, String result, Optional<Digest> digest) {}

    /** One run: when it started and ended, and what it did. */
    public record Run(Instant startedAt, Instant endedAt, List<Outcome> outcomes) {}

    private final List<ImageReference> images;
    private final Duration interval;
    private final UpstreamRouter router;
    private final MetadataStore metadata;
    private final Prefetcher prefetcher;
    private final Clock clock;
    private volatile Run lastRun;
    private final AtomicLong runs = new AtomicLong();

    /** {@code images} must parse and route (checked at start-up: a typo names the key). */
    public KeepWarm(List<ImageReference> images, Duration interval, UpstreamRouter router, MetadataStore metadata,
                    Prefetcher prefetcher, Clock clock) {
        this.images = List.copyOf(images);
        this.interval = interval;
        this.router = router;
        this.metadata = metadata;
        this.prefetcher = prefetcher;
        this.clock = clock;
    }

    public Duration interval() {
        return interval;
    }

    public List<String> images() {
        return images.stream().map(ImageReference::toString).toList();
    }

    /** Runs finished since start. */
    public long runs() {
        return runs.get();
    }

    public Optional<Run> lastRun() {
        return Optional.ofNullable(lastRun);
    }

    /** One pass over the images, in the caller's thread (blocking: upstream requests and downloads). */
    public Run runOnce() {
        Instant at = clock.instant();
        List<Outcome> outcomes = new ArrayList<>();
        for (ImageReference image : images) {
            Outcome outcome;
            try {
                outcome = keepCurrent(image);
            } catch (IOException | RuntimeException e) {
                outcome = new Outcome(image.toString(), "failed: " + (e.getMessage() == null ? e.toString() : e.getMessage()),
                        Optional.empty());
            }
            if (!outcome.result().equals("unchanged")) {
                LOG.info("keep-warm {}: {}", outcome.image(), outcome.result());
            }
            outcomes.add(outcome);
        }
        Run run = new Run(at, clock.instant(), List.copyOf(outcomes));
        lastRun = run;
        runs.incrementAndGet();
        return run;
    }

    private Outcome keepCurrent(ImageReference image) throws IOException {
        Target target = router.route(image.name(), Optional.empty()).target()
                .orElseThrow(() -> new IOException("no upstream for " + image.name()));
        if (image.reference() instanceof Reference.ByDigest byDigest) {
            return cachedWhole(byDigest.value())
                    ? new Outcome(image.toString(), "unchanged", Optional.of(byDigest.value()))
                    : fetch(image);
        }
        String tag = image.reference().toString();
        TagKey key = TagKey.own(target.upstreamName(), target.repository().value(), tag);
        Optional<TagResolution> cached = metadata.tag(key);
        UpstreamResult<ManifestHead> head = target.upstream()
                .headManifest(target.repository(), tag, List.of(Prefetcher.ACCEPT)).join();
        if (head instanceof UpstreamResult.Refused<ManifestHead> refused) {
            return new Outcome(image.toString(), "failed: upstream " + target.upstreamName() + " was asked for the tag and "
                    + RefusalText.describe(refused.refusal()), cached.map(TagResolution::digest));
        }
        Optional<Digest> upstream = ((UpstreamResult.Ok<ManifestHead>) head).value().declaredDigest().flatMap(KeepWarm::digest);
        if (cached.isPresent() && upstream.equals(Optional.of(cached.get().digest())) && cachedWhole(cached.get().digest())) {
            // Checked just now: clients within the tag's TTL need not ask the upstream again.
            metadata.putTag(key, new TagResolution(cached.get().digest(), cached.get().mediaType(), clock.millis()));
            return new Outcome(image.toString(), "unchanged", upstream);
        }
        return fetch(image);
    }

    /**
     * Whether the manifest, its platform images and all their blobs are cached: an image whose layers
     * were evicted is not current for a site that loses its upstream, so it is fetched again. Each
     * manifest is looked at once however many paths lead to it, and a graph beyond the walk's limits
     * is not whole (the fetch then says which limit).
     */
    private boolean cachedWhole(Digest top) {
        Set<Digest> seen = new HashSet<>(List.of(top));
        ArrayDeque<Digest> todo = new ArrayDeque<>(seen);
        while (!todo.isEmpty()) {
            Optional<StoredManifest> manifest = metadata.manifest(todo.poll());
            if (manifest.isEmpty()) {
                return false;
            }
            ManifestContent content;
            try {
                content = ManifestContent.parse(manifest.get().bytes());
            } catch (InvalidManifestException e) {
                return false;
            }
            for (Descriptor child : content.manifests()) {
                if (seen.add(child.digest())) {
                    if (seen.size() > WalkLimits.DEFAULT.maxManifests()) {
                        return false;
                    }
                    todo.add(child.digest());
                }
            }
            if (!content.blobs().stream().allMatch(blob -> metadata.entry(blob.digest()).isPresent())) {
                return false;
            }
        }
        return true;
    }

    private Outcome fetch(ImageReference image) throws IOException {
        Prefetcher.Summary summary = prefetcher.prefetch(image.toString(), Prefetcher.QUIET);
        return new Outcome(image.toString(), "fetched", Optional.of(summary.digest()));
    }

    private static Optional<Digest> digest(String text) {
        try {
            return Optional.of(Digest.parse(text));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }
}
