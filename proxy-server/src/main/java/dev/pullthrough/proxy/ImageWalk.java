package dev.pullthrough.proxy;

import dev.pullthrough.oci.Descriptor;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.InvalidManifestException;
import dev.pullthrough.oci.ManifestContent;
import dev.pullthrough.oci.Reference;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.meta.StoredManifest;
import dev.pullthrough.upstream.ManifestBody;
import dev.pullthrough.upstream.UpstreamResult;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;

/**
 * One prefetch's walk of an image's graph: each manifest and each blob once, however many paths lead
 * to it, within {@link WalkLimits}, a few upstream requests at a time, and stopped as soon as whoever
 * asked has gone away. Manifests are admitted (stored, unlinked) as they arrive, so only the requests
 * in flight hold manifest bytes; the repository is linked to the graph only at the end, once every
 * manifest and blob of it is cached, so a manifest served for the repository always has what it names.
 * Blocking: runs in the caller's thread, with a few threads of its own that wait on blob downloads.
 */
final class ImageWalk {
    /** How often a wait looks whether the caller went away. */
    private static final long POLL_MILLIS = 100;

    /** A manifest still to fetch, and how deep it is nested under the top. */
    private record Pending(Digest digest, int depth) {}

    /** A manifest fetch running, for the manifest at {@code depth}. */
    private record Fetch(String reference, Optional<Digest> digest, int depth,
                         CompletableFuture<? extends Object> answer) {}

    private final Target target;
    private final BlobService blobs;
    private final MetadataStore metadata;
    private final ManifestAdmission admission;
    private final WalkLimits limits;
    private final BooleanSupplier abandoned;
    private final Set<Digest> manifestsSeen = new HashSet<>();
    private final Set<Digest> blobsSeen = new LinkedHashSet<>();
    /** Every manifest admitted, by digest, with its media type: the walk's result. */
    private final Map<Digest, String> admitted = new LinkedHashMap<>();

    ImageWalk(Target target, BlobService blobs, MetadataStore metadata, ManifestAdmission admission, WalkLimits limits,
              BooleanSupplier abandoned) {
        this.target = target;
        this.blobs = blobs;
        this.metadata = metadata;
        this.admission = admission;
        this.limits = limits;
        this.abandoned = abandoned;
    }

    /**
     * Caches the manifest {@code reference} names and everything under it, links it all to the
     * repository, and tells {@code progress} of each manifest and blob; returns the top manifest.
     */
    StoredManifest run(String reference, Prefetcher.Progress progress) throws IOException {
        Optional<Digest> asDigest = Reference.parse(reference).digest();
        asDigest.ifPresent(manifestsSeen::add);
        StoredManifest top = arrived(start(reference, asDigest, 0));
        manifestsSeen.add(top.digest());
        ArrayDeque<Pending> queue = new ArrayDeque<>(visit(top, 0));
        ArrayDeque<Fetch> running = new ArrayDeque<>();
        try {
            while (!queue.isEmpty() || !running.isEmpty()) {
                while (running.size() < limits.parallel() && !queue.isEmpty()) {
                    Pending next = queue.poll();
                    running.add(start(next.digest().toString(), Optional.of(next.digest()), next.depth()));
                }
                Fetch oldest = running.poll();
                queue.addAll(visit(arrived(oldest), oldest.depth()));
            }
        } finally {
            // A walk that stopped early still owes the memory budget what its running fetches hold.
            running.forEach(fetch -> fetch.answer().thenAccept(ImageWalk::release));
        }
        cacheBlobs(progress);
        // Everything is cached now: the repository may serve the graph. The link of the top reaches
        // every manifest under it (and what each names), each once.
        admission.link(target.upstreamName(), target.repository().value(), top);
        admitted.forEach(progress::manifest);
        return top;
    }

    /** The manifest from cache when the digest is cached and linked to this repository, else asked upstream. */
    private Fetch start(String reference, Optional<Digest> digest, int depth) {
        checkNotAbandoned();
        if (digest.isPresent() && metadata.linked(target.upstreamName(), target.repository().value(), digest.get())) {
            Optional<StoredManifest> cached = metadata.manifest(digest.get());
            if (cached.isPresent()) {
                return new Fetch(reference, digest, depth, CompletableFuture.completedFuture(cached.get()));
            }
        }
        return new Fetch(reference, digest, depth,
                target.upstream().manifest(target.repository(), reference, List.of(Prefetcher.ACCEPT)));
    }

    /** The fetched manifest, verified against its digest. */
    private StoredManifest arrived(Fetch fetch) throws IOException {
        Object answer = await(fetch.answer(), "manifest " + fetch.reference());
        if (answer instanceof StoredManifest cached) {
            return cached;
        }
        if (answer instanceof UpstreamResult.Refused<?> refused) {
            throw new IOException("upstream " + target.upstreamName() + " did not give manifest " + fetch.reference() + " of "
                    + target.repository() + ": " + RefusalText.describe(refused.refusal()));
        }
        // Held only while read here: the walk's other fetches wait for the memory a body holds.
        try (ManifestBody body = (ManifestBody) ((UpstreamResult.Ok<?>) answer).value()) {
            return verified(fetch, body);
        }
    }

    private StoredManifest verified(Fetch fetch, ManifestBody body) throws IOException {
        Digest digest;
        try {
            digest = fetch.digest().isPresent() ? fetch.digest().get() : body.declaredDigest().map(Digest::parse)
                    .orElseGet(() -> Digest.sha256Of(body.bytes()));
        } catch (IllegalArgumentException e) {
            throw new IOException("upstream " + target.upstreamName() + " declared an invalid digest for " + fetch.reference());
        }
        if (!digest.matches(body.bytes())) {
            throw new IOException("manifest " + fetch.reference() + " of " + target.repository() + " does not hash to " + digest);
        }
        return new StoredManifest(digest, body.mediaType(), body.bytes());
    }

    /** Gives back the memory budget an upstream body holds (a cached manifest holds none). */
    private static void release(Object answer) {
        if (answer instanceof UpstreamResult.Ok<?> ok && ok.value() instanceof ManifestBody body) {
            body.close();
        }
    }

    /**
     * Admits a fetched manifest (unlinked) and returns the manifests it names that this walk has not
     * seen; its blobs join the set to cache. Refuses a graph beyond the limits before fetching more.
     */
    private List<Pending> visit(StoredManifest manifest, int depth) throws IOException {
        ManifestContent content;
        try {
            content = ManifestContent.parse(manifest.bytes());
            admission.admit(manifest.digest(), manifest.mediaType(), manifest.bytes());
        } catch (InvalidManifestException | ManifestAdmission.Refused e) {
            throw new IOException("manifest " + manifest.digest() + " of " + target.repository() + " cannot be cached: "
                    + e.getMessage());
        }
        admitted.put(manifest.digest(), manifest.mediaType());
        List<Pending> unseen = new ArrayList<>();
        for (Descriptor child : content.manifests()) {
            if (!manifestsSeen.add(child.digest())) {
                continue; // reached before by another path: a graph, not a tree of paths
            }
            if (depth + 1 > limits.maxDepth()) {
                throw new IOException(describe() + " nests indexes deeper than " + limits.maxDepth()
                        + " levels, the limit of one prefetch");
            }
            if (manifestsSeen.size() > limits.maxManifests()) {
                throw new IOException(describe() + " names more than " + limits.maxManifests()
                        + " distinct manifests, the limit of one prefetch");
            }
            unseen.add(new Pending(child.digest(), depth + 1));
        }
        for (Descriptor blob : content.blobs()) {
            if (blobsSeen.add(blob.digest()) && blobsSeen.size() > limits.maxBlobs()) {
                throw new IOException(describe() + " names more than " + limits.maxBlobs()
                        + " distinct blobs, the limit of one prefetch");
            }
        }
        return unseen;
    }

    /**
     * Every blob of the graph cached, {@code parallel} at a time (each waits on its shared download);
     * progress told in order, from this thread.
     */
    private void cacheBlobs(Prefetcher.Progress progress) throws IOException {
        if (blobsSeen.isEmpty()) {
            return;
        }
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(limits.parallel(), blobsSeen.size()), runnable -> {
            Thread thread = new Thread(runnable, "prefetch-blobs");
            thread.setDaemon(true);
            return thread;
        });
        try {
            Map<Digest, Future<Long>> sizes = new LinkedHashMap<>();
            for (Digest digest : blobsSeen) {
                sizes.put(digest, pool.submit(() -> blobs.ensureCached(target, digest)));
            }
            for (Map.Entry<Digest, Future<Long>> size : sizes.entrySet()) {
                progress.blob(size.getKey(), await(size.getValue(), "blob " + size.getKey()));
            }
        } finally {
            // A failure or a caller gone: the waits stop here. The downloads they joined are shared
            // with any client pulling the same blob, and end on their own.
            pool.shutdownNow();
        }
    }

    /** The value of {@code future}, looking every so often whether the caller went away. */
    private <T> T await(Future<T> future, String what) throws IOException {
        while (true) {
            checkNotAbandoned();
            try {
                return future.get(POLL_MILLIS, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                // still running
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof IOException io) {
                    throw io;
                }
                throw new IOException("fetching " + what + " of " + target.repository() + " failed: "
                        + (cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage()), cause);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted fetching " + what + " of " + target.repository(), e);
            }
        }
    }

    /** Stops the walk when its caller went away, or its thread was interrupted (a shutdown). */
    private void checkNotAbandoned() {
        if (abandoned.getAsBoolean() || Thread.currentThread().isInterrupted()) {
            throw new Abandoned(describe() + ": stopped, whoever asked for it has gone away");
        }
    }

    private String describe() {
        return "image " + target.upstreamName() + "/" + target.repository();
    }

    /** The walk stopped because its caller went away: nobody waits for its answer. */
    static final class Abandoned extends RuntimeException {
        Abandoned(String message) {
            super(message);
        }
    }
}
