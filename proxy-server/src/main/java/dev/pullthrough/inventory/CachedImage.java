package dev.pullthrough.inventory;

import dev.pullthrough.oci.Digest;
import java.util.List;

/**
 * An image the cache holds: a manifest (or index) linked to a repository that no other cached
 * manifest of that repository names, with the tags that point at it. {@code name} is the name as
 * clients pull it (with the upstream's prefix unless it is the default upstream); {@code size} the
 * bytes the cache holds of it (its manifests and the blobs they name that are cached);
 * {@code lastPulledMillis} the last access of its manifests (0 when unknown); {@code pulls} its
 * manifest GETs since the proxy started.
 */
public record CachedImage(String upstream, String repository, String name, List<String> tags, Digest digest,
                          String mediaType, long size, long lastPulledMillis, long pulls) {}
