package dev.pullthrough.oci;

import java.util.regex.Pattern;

/**
 * A repository name as the distribution spec defines it: lowercase path components separated by
 * {@code /}, each {@code [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*}, at most 255 characters in all. The
 * grammar already rules out {@code ..}, empty components and any character needing escapes.
 */
public record RepositoryName(String value) {
    public static final int MAX_LENGTH = 255;
    private static final Pattern COMPONENT = Pattern.compile("[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*");

    public static RepositoryName parse(String text) {
        if (text.isEmpty() || text.length() > MAX_LENGTH) {
            throw new InvalidNameException("repository name must have 1 to " + MAX_LENGTH + " characters");
        }
        for (String component : text.split("/", -1)) {
            if (!COMPONENT.matcher(component).matches()) {
                throw new InvalidNameException("invalid repository name component '" + abbreviate(component) + "'");
            }
        }
        return new RepositoryName(text);
    }

    /** Whether the name has a single component, e.g. {@code alpine} (Docker Hub reads it as {@code library/alpine}). */
    public boolean isSingleComponent() {
        return value.indexOf('/') < 0;
    }

    public RepositoryName withPrefix(String prefix) {
        return parse(prefix + "/" + value);
    }

    private static String abbreviate(String text) {
        return text.length() <= 64 ? text : text.substring(0, 64) + "...";
    }

    @Override
    public String toString() {
        return value;
    }
}
