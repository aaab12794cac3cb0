package dev.pullthrough.upstream;

import java.util.Optional;

/**
 * A small JSON document of the upstream's (a tag list, referrers) with what goes along with it: the
 * {@code Link} to its next page and the filters the upstream applied; and the share of the
 * {@link BodyBudget} it holds, closed by whoever takes it once done with the body.
 */
public record Listing(String contentType, byte[] body, Optional<String> nextLink, Optional<String> filtersApplied,
                      BodyBudget.Permit permit) implements AutoCloseable {
    /** A listing that holds no share of the budget. */
    public Listing(String contentType, byte[] body, Optional<String> nextLink, Optional<String> filtersApplied) {
        this(contentType, body, nextLink, filtersApplied, BodyBudget.Permit.NONE);
    }

    @Override
    public void close() {
        permit.close();
    }
}
