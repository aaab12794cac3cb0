package dev.pullthrough.registry.api;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.Locale;
import java.util.TreeSet;

/**
 * The media types a client accepts, from its {@code Accept} header(s) as clients really send them:
 * several headers, comma-joined lists, parameters and q-values. Only the normalised set is used
 * as a cache key; the headers themselves go upstream as sent.
 */
public final class AcceptHeader {
    /**
     * Clients send a handful of distinct Accept headers, over and over: parsing them once each took
     * the per-request cost of normalising from about 600 ns to a map lookup (HotPathBenchmark).
     */
    private static final int MEMO_LIMIT = 1024;
    private static final Map<List<String>, Parsed> MEMO = new ConcurrentHashMap<>();

    /** One header list, parsed. */
    private record Parsed(String key, Set<String> types) {}

    private AcceptHeader() {}

    /** Sorted, lower-case, parameter-free types joined by commas; types with {@code q=0} are left out. */
    public static String normalise(List<String> headers) {
        return parsed(headers).key();
    }

    /** The accepted types, lower case and without parameters; types with {@code q=0} are left out. */
    public static Set<String> types(List<String> headers) {
        return parsed(headers).types();
    }

    private static Parsed parsed(List<String> headers) {
        Parsed parsed = MEMO.get(headers);
        if (parsed == null) {
            TreeSet<String> types = parse(headers);
            parsed = new Parsed(String.join(",", types), Set.copyOf(types));
            if (MEMO.size() >= MEMO_LIMIT) {
                MEMO.clear(); // unusual header variety: start over rather than grow without bound
            }
            MEMO.put(List.copyOf(headers), parsed);
        }
        return parsed;
    }

    private static TreeSet<String> parse(List<String> headers) {
        TreeSet<String> types = new TreeSet<>();
        for (String header : headers) {
            for (String part : header.split(",")) {
                String[] pieces = part.split(";");
                String type = pieces[0].trim().toLowerCase(Locale.ROOT);
                if (type.indexOf('/') < 0 || refused(pieces)) {
                    // not a media type (nor */*): it cannot match a manifest, and must not collide with TagKey.OWN
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
