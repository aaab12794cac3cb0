package dev.pullthrough.proxy;

import dev.pullthrough.storage.meta.TagKey;
import dev.pullthrough.storage.meta.TagResolution;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Tag resolutions shared by the replicas of a cluster: what one replica learnt from the upstream
 * about a tag, the others use instead of asking again (within the tag's TTL; past it, to revalidate
 * with a HEAD instead of a GET). Best effort: while the store cannot be reached, nothing is shared
 * and each replica asks for itself.
 */
public interface SharedTags {
    /** The resolutions recorded for these keys (blocking, briefly); none for keys without one, or when unreachable. */
    Map<TagKey, TagResolution> get(List<TagKey> keys);

    /** Records a resolution the upstream just gave, kept {@code keep}; never waits. */
    void put(TagKey key, TagResolution resolution, Duration keep);

    /**
     * Makes this replica the one that asks the upstream about {@code tag} now, or waits (briefly) for
     * the one that does: completes {@code true} to go ahead (then {@link #done}), {@code false} once
     * another replica finished (what it learnt is in {@link #get}). {@code true} when unsure.
     */
    CompletableFuture<Boolean> lead(String tag);

    /** This replica finished asking the upstream about {@code tag}. */
    void done(String tag);

    /** A single node: nothing shared. */
    SharedTags NONE = new SharedTags() {
        @Override
        public Map<TagKey, TagResolution> get(List<TagKey> keys) {
            return Map.of();
        }

        @Override
        public void put(TagKey key, TagResolution resolution, Duration keep) {
        }

        @Override
        public CompletableFuture<Boolean> lead(String tag) {
            return CompletableFuture.completedFuture(true);
        }

        @Override
        public void done(String tag) {
        }
    };
}
