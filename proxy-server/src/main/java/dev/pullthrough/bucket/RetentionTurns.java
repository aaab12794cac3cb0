package dev.pullthrough.bucket;

import dev.pullthrough.oci.Digest;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;

/**
 * What lets the replicas take turns at the bucket's retention pass (issue 30): a lease that one
 * replica holds while it runs the pass, the last pass (cluster-wide), and the manifests that cached
 * tags still resolve to. Every call blocks (the pass has a thread of its own).
 */
public interface RetentionTurns {
    /** Takes the pass for this replica for {@code ttl}; false when another replica holds it (or Redis is down). */
    boolean take(Duration ttl);

    /** Extends this replica's hold on the pass; false when it lost it (expired and taken, or Redis down). */
    boolean renew(Duration ttl);

    void release();

    /** The last pass any replica finished, if one is recorded. */
    Optional<RetentionPass> lastPass();

    void recordPass(RetentionPass pass);

    /**
     * The manifests that cached tags resolve to, while those tags may still be served (their upstream's
     * {@code tagTtl + maxStale}): their content is kept whatever its last use.
     */
    Set<Digest> taggedManifests();
}
