package dev.pullthrough.bucket;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.meta.ForwardingMetadataStore;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.meta.StoredManifest;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The local index, with every use of a blob or manifest (served, downloaded, stored) recorded in the
 * cluster's {@link UseLedger} as well, so that the bucket's retention pass keeps what any replica
 * still uses (issue 30). Cheap: a digest is recorded at most once an hour by this replica (a set of
 * recently recorded digests in memory), the served ones in the janitor's batches of accesses, and
 * never waited for.
 */
public final class UseRecording extends ForwardingMetadataStore {
    /** A use is recorded at most this often per digest and replica: retention is counted in days. */
    static final Duration RECORD_EVERY = Duration.ofHours(1);
    /** Digests remembered as recently recorded; beyond this, the least recent are recorded again sooner. */
    private static final long REMEMBERED = 200_000;
    private static final Logger LOG = LoggerFactory.getLogger(UseRecording.class);

    private final UseLedger ledger;
    private final Clock clock;
    private final Cache<Digest, Boolean> recentlyRecorded;

    public UseRecording(MetadataStore store, UseLedger ledger, Clock clock) {
        super(store);
        this.ledger = ledger;
        this.clock = clock;
        this.recentlyRecorded = Caffeine.newBuilder().expireAfterWrite(RECORD_EVERY).maximumSize(REMEMBERED)
                .ticker(() -> clock.millis() * 1_000_000L).build();
    }

    /** Served from this replica's disk: the janitor's batch of accesses. */
    @Override
    public void touch(Map<Digest, Long> accessMillis) {
        store.touch(accessMillis);
        used(accessMillis);
    }

    /** Downloaded (from the upstream, the bucket or a peer) and committed: needed. */
    @Override
    public void putBlob(Digest digest, long size, long accessMillis) {
        store.putBlob(digest, size, accessMillis);
        used(Map.of(digest, clock.millis()));
    }

    /** Indexed and linked as the store below does it (one write where it can), recorded as needed. */
    @Override
    public void putLinkedBlob(String upstream, String repository, Digest digest, long size, long accessMillis) {
        store.putLinkedBlob(upstream, repository, digest, size, accessMillis);
        used(Map.of(digest, clock.millis()));
    }

    /** Served without reaching the index: a redirect to the bucket (storage.s3.redirect). */
    public void usedNow(Digest digest) {
        used(Map.of(digest, clock.millis()));
    }

    @Override
    public void putManifest(StoredManifest manifest) {
        store.putManifest(manifest);
        used(Map.of(manifest.digest(), clock.millis()));
    }

    private void used(Map<Digest, Long> uses) {
        Map<Digest, Long> fresh = new LinkedHashMap<>();
        uses.forEach((digest, at) -> {
            if (recentlyRecorded.asMap().putIfAbsent(digest, Boolean.TRUE) == null) {
                fresh.put(digest, at);
            }
        });
        if (fresh.isEmpty()) {
            return;
        }
        ledger.record(fresh).whenComplete((done, failure) -> {
            if (failure != null) {
                // Not recorded: the next use of these tries again instead of waiting out the hour.
                recentlyRecorded.invalidateAll(fresh.keySet());
                LOG.debug("recording the use of {} bucket objects failed: {}", fresh.size(), failure.toString());
            }
        });
    }
}
