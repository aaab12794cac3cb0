package dev.pullthrough.registry.api;

import java.util.List;
import java.util.Locale;
import java.util.TreeSet;

/**
 * The media types a client accepts, from its {@code Accept} header(s) as clients really send them:
 * several headers, comma-joined lists, parameters and q-values. Only the normalised set is used
 * as a cache key; the headers themselves go upstream as sent.
 */
public final class AcceptHeader {
    private AcceptHeader() {}

    /** Sorted, lower-case, parameter-free types joined by commas; types with {@code q=0} are left out. */
    public static String normalise(List<String> headers) {
        return String.join(",", types(headers));
    }

    /** The accepted types, lower case and without parameters; types with {@code q=0} are left out. */
    public static TreeSet<String> types(List<String> headers) {
        TreeSet<String> types = new TreeSet<>();
        for (String header : headers) {
            for (String part : header.split(",")) {
                String[] pieces = part.split(";");
                String type = pieces[0].trim().toLowerCase(Locale.ROOT);
                if (type.isEmpty() || refused(pieces)) {
                    continue;
                }
                types.add(type);
            }
        }
        return types;
    }

    private static boolean refused(String[] pieces) {
        for (int i = 1; i < pieces.length; i++) {
            String param = pieces[i].trim().toLowerCase(Locale.ROOT);
            if (param.startsWith("q=")) {
                try {
                    return Double.parseDouble(param.substring(2)) <= 0;
                } catch (NumberFormatException e) {
                    return false;
                }
            }
        }
        return false;
    }
}
