package dev.pullthrough.bucket;

import dev.pullthrough.oci.Digest;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * When some replica last used each object of the bucket, by digest (issue 30): what the retention
 * pass weighs. Uses are recorded asynchronously; the pass's own questions block (it has a thread of
 * its own).
 */
public interface UseLedger {
    /** Records uses at the given times; a later use already recorded is kept. */
    CompletableFuture<Void> record(Map<Digest, Long> usedAtMillis);

    /** The last recorded use of each digest, in the same order; empty where none is recorded. Blocking. */
    List<Optional<Long>> lastUses(List<Digest> digests);

    /** Records {@code atMillis} for those digests that have no record yet (first seen by the pass). Blocking. */
    void recordIfAbsent(List<Digest> digests, long atMillis);

    /** Forgets these digests' records (their objects were deleted). Blocking. */
    void forget(List<Digest> digests);

    /** Forgets every record older than {@code beforeMillis}. Blocking. */
    void forgetBefore(long beforeMillis);
}
