package dev.pullthrough.bucket;

import dev.pullthrough.config.Durations;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.InvalidManifestException;
import dev.pullthrough.oci.ManifestContent;
import dev.pullthrough.storage.s3.S3Bucket;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code storage.s3.retention} (issue 30): the pass that keeps the bucket bounded. An object (blob,
 * manifest, repository link) whose digest no replica has used for the retention is deleted, unless
 * a cached tag still resolves to a manifest that names it; an object the ledger has never seen is
 * recorded as used now (first seen: a bucket filled before retention was on, or a Redis restarted
 * empty, loses nothing at once). Unfinished multipart uploads older than a day (their replica was
 * killed mid-upload) are aborted. One replica at a time runs it, under a lease, at most once an hour
 * across the cluster. Blocking throughout: it runs on a thread of its own.
 */
public final class BucketRetention {
    /** How often the cluster runs the pass: retention is counted in days, so an hour late is little; a listing costs. */
    public static final Duration PASS_EVERY = Duration.ofHours(1);
    /** How often each replica looks whether a pass is due: a replica that stops leaves the next pass to another. */
    public static final Duration LOOK_EVERY = Duration.ofMinutes(10);
    /** The first look after a start: after start-up's own work, and not at once in a crash loop. */
    public static final Duration FIRST_LOOK = Duration.ofMinutes(5);
    /** An upload unfinished for this long has lost its replica: a blob's upload lasts as long as its download. */
    static final Duration UPLOAD_ABANDONED_AFTER = Duration.ofDays(1);
    /** How long the pass is held without a renewal; renewed after every page, so a dead runner frees it soon. */
    static final Duration LEASE = Duration.ofMinutes(10);
    /** Digests deleted between two renewals of the lease: well within {@link #LEASE} even on a slow store. */
    private static final int DELETES_PER_RENEWAL = 200;
    private static final Logger LOG = LoggerFactory.getLogger(BucketRetention.class);

    private final S3Bucket bucket;
    private final Duration retention;
    private final UseLedger uses;
    private final RetentionTurns turns;
    private final Clock clock;
    private final String replica;
    private final Consumer<RetentionPass> onPass;
    /** The cluster's last pass as last read (each look whether one is due, and each own pass): read without blocking. */
    private volatile Optional<RetentionPass> lastKnown = Optional.empty();

    /** {@code onPass} hears of every pass this replica finished (metrics). */
    public BucketRetention(S3Bucket bucket, Duration retention, UseLedger uses, RetentionTurns turns, Clock clock, String replica,
                           Consumer<RetentionPass> onPass) {
        this.bucket = bucket;
        this.retention = retention;
        this.uses = uses;
        this.turns = turns;
        this.clock = clock;
        this.replica = replica;
        this.onPass = onPass;
    }

    /** Runs the pass when the cluster's last one is an interval old and no other replica runs it; the pass, if run. */
    public Optional<RetentionPass> runIfDue() {
        if (!due() || !turns.take(LEASE)) {
            return Optional.empty();
        }
        try {
            if (!due()) {
                return Optional.empty(); // another replica finished one between the look and the lease
            }
            RetentionPass pass = run();
            turns.recordPass(pass);
            lastKnown = Optional.of(pass);
            onPass.accept(pass);
            LOG.info("bucket retention ({} unused): {} objects ({} bytes) deleted, {} kept, {} unfinished uploads aborted",
                    Durations.format(retention), pass.deletedObjects(), pass.deletedBytes(), pass.keptObjects(), pass.uploadsAborted());
            return Optional.of(pass);
        } finally {
            turns.release();
        }
    }

    /**
     * The last pass any replica finished, asked of the cluster now (blocking, briefly); as last known
     * when the cluster cannot be asked: what the status page shows.
     */
    public Optional<RetentionPass> lastPass() {
        Optional<RetentionPass> last = turns.lastPass();
        if (last.isPresent()) {
            lastKnown = last;
        }
        return lastKnown;
    }

    /**
     * The last pass any replica finished, as this replica last learned it (at most {@link #LOOK_EVERY}
     * old): what the kept-objects gauge shows, without asking Redis.
     */
    public Optional<RetentionPass> lastKnownPass() {
        return lastKnown;
    }

    private boolean due() {
        Optional<RetentionPass> last = turns.lastPass();
        if (last.isPresent()) {
            lastKnown = last;
        }
        return last.map(pass -> !pass.at().plus(PASS_EVERY).isAfter(clock.instant())).orElse(true);
    }

    private RetentionPass run() {
        Instant started = clock.instant();
        long cutoff = started.minus(retention).toEpochMilli();
        Set<Digest> tagged = namedByCachedTags();
        // Kept, deleted or a candidate per digest: a digest's blob, manifest and links go together.
        Map<Digest, List<S3Bucket.Listed>> candidates = new LinkedHashMap<>();
        long[] kept = {0};
        bucket.forEachObjectPage(page -> {
            holdTheLease();
            List<Digest> digests = new ArrayList<>();
            List<S3Bucket.Listed> objects = new ArrayList<>();
            for (S3Bucket.Listed object : page) {
                Optional<Digest> digest = bucket.digestNamedBy(object.key());
                if (digest.isPresent()) {
                    digests.add(digest.get());
                    objects.add(object);
                }
            }
            List<Optional<Long>> lastUses = uses.lastUses(digests);
            List<Digest> firstSeen = new ArrayList<>();
            for (int i = 0; i < digests.size(); i++) {
                Digest digest = digests.get(i);
                if (lastUses.get(i).isEmpty()) {
                    firstSeen.add(digest);
                    kept[0]++;
                } else if (lastUses.get(i).get() >= cutoff || tagged.contains(digest)) {
                    kept[0]++;
                } else {
                    candidates.computeIfAbsent(digest, d -> new ArrayList<>()).add(objects.get(i));
                }
            }
            uses.recordIfAbsent(firstSeen, started.toEpochMilli());
        });
        long deletedObjects = 0;
        long deletedBytes = 0;
        List<Digest> digests = List.copyOf(candidates.keySet());
        List<Digest> deleted = new ArrayList<>();
        // Asked again just before deleting: a replica that used the object since the listing keeps it.
        List<Optional<Long>> again = uses.lastUses(digests);
        for (int i = 0; i < digests.size(); i++) {
            List<S3Bucket.Listed> objects = candidates.get(digests.get(i));
            if (again.get(i).isEmpty() || again.get(i).get() >= cutoff) {
                kept[0] += objects.size();
                continue;
            }
            if (i % DELETES_PER_RENEWAL == 0) {
                holdTheLease(); // a long run of deletes outlasts no lease: never two passes at once
            }
            for (S3Bucket.Listed object : objects) {
                bucket.delete(object.key()).join();
                deletedObjects++;
                deletedBytes += object.size();
            }
            deleted.add(digests.get(i));
        }
        uses.forget(deleted);
        // Records of objects gone otherwise (never written, removed by fsck) would pile up; a tagged object
        // unused for twice the retention loses its record too, and is first seen anew (kept longer, never lost).
        uses.forgetBefore(cutoff - retention.toMillis());
        long aborted = abortAbandonedUploads(started);
        // In milliseconds, as Redis keeps it: every replica reports the same instant.
        return new RetentionPass(clock.instant().truncatedTo(ChronoUnit.MILLIS), replica, deletedObjects, deletedBytes, kept[0], aborted);
    }

    private void holdTheLease() {
        if (!turns.renew(LEASE)) {
            throw new IllegalStateException("the retention pass lost its lease (Redis unreachable, or it expired): stopped");
        }
    }

    /**
     * Every digest that the manifests of cached tags name, those manifests included, children of an
     * index followed: read from the bucket. A manifest that cannot be read protects only itself.
     */
    private Set<Digest> namedByCachedTags() {
        Set<Digest> named = new HashSet<>();
        Deque<Digest> manifests = new ArrayDeque<>(turns.taggedManifests());
        while (!manifests.isEmpty()) {
            Digest manifest = manifests.pop();
            if (!named.add(manifest)) {
                continue;
            }
            Optional<byte[]> bytes = bucket.bytes(bucket.key(S3Bucket.Kind.MANIFESTS, manifest)).join();
            if (bytes.isEmpty()) {
                continue;
            }
            try {
                ManifestContent content = ManifestContent.parse(bytes.get());
                content.manifests().forEach(child -> manifests.push(child.digest()));
                content.blobs().forEach(blob -> named.add(blob.digest()));
            } catch (InvalidManifestException e) {
                LOG.debug("manifest {} in the bucket is unreadable: {}", manifest, e.getMessage());
            }
        }
        return named;
    }

    /** Aborts the uploads begun more than a day before {@code now} (the injected clock: tests move it). */
    private long abortAbandonedUploads(Instant now) {
        long aborted = 0;
        for (S3Bucket.UnfinishedUpload upload : bucket.unfinishedUploads()) {
            if (upload.initiated().plus(UPLOAD_ABANDONED_AFTER).isBefore(now)) {
                bucket.abortUpload(upload.key(), upload.uploadId()).join();
                aborted++;
            }
        }
        return aborted;
    }
}
