package dev.pullthrough.storage.meta;

import java.nio.charset.StandardCharsets;

/**
 * A tag as one client asked for it: the upstream, the repository, the tag, and the normalised set
 * of media types the client accepts (two clients with different {@code Accept} headers may be
 * given different manifests for the same tag, so both are part of the key).
 */
public record TagKey(String upstream, String repository, String tag, String acceptKey) {
    /** The key prefix shared by every accept set of one tag. */
    static byte[] prefix(String upstream, String repository, String tag) {
        return (upstream + '\0' + repository + '\0' + tag + '\0').getBytes(StandardCharsets.UTF_8);
    }

    byte[] bytes() {
        return (upstream + '\0' + repository + '\0' + tag + '\0' + acceptKey).getBytes(StandardCharsets.UTF_8);
    }
}
