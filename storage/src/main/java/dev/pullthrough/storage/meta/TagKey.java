package dev.pullthrough.storage.meta;

import java.nio.charset.StandardCharsets;

/**
 * Where a tag's resolution is kept: the upstream, the repository, the tag, and whose resolution it
 * is. {@link #OWN} is the manifest the upstream stores for the tag, which answers every client that
 * lists its media type; any other {@code acceptKey} is a normalised accept set that the upstream
 * answered with something else (a list's platform child for a client listing no list type).
 */
public record TagKey(String upstream, String repository, String tag, String acceptKey) {
    /**
     * The accept key of the tag's own manifest. No client's accept set normalises to it: media
     * types always have a slash.
     */
    public static final String OWN = "*";

    /** The key of the manifest the upstream stores for the tag. */
    public static TagKey own(String upstream, String repository, String tag) {
        return new TagKey(upstream, repository, tag, OWN);
    }

    /** The key prefix shared by every accept set of one tag. */
    static byte[] prefix(String upstream, String repository, String tag) {
        return (upstream + '\0' + repository + '\0' + tag + '\0').getBytes(StandardCharsets.UTF_8);
    }

    byte[] bytes() {
        return (upstream + '\0' + repository + '\0' + tag + '\0' + acceptKey).getBytes(StandardCharsets.UTF_8);
    }
}
