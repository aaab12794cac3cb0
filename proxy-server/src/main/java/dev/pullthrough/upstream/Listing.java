package dev.pullthrough.upstream;

import java.util.Optional;

/**
 * A small JSON document of the upstream's (a tag list, referrers) with what goes along with it: the
 * {@code Link} to its next page and the filters the upstream applied.
 */
public record Listing(String contentType, byte[] body, Optional<String> nextLink, Optional<String> filtersApplied) {}
