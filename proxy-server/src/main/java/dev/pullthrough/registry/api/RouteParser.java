package dev.pullthrough.registry.api;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.InvalidDigestException;
import dev.pullthrough.oci.InvalidNameException;
import dev.pullthrough.oci.Reference;
import dev.pullthrough.oci.RepositoryName;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Turns a request line into a {@link Route} or an {@link ApiError}, before anything else happens:
 * pushes are refused, names, tags and digests are checked against the grammar, so nothing invalid
 * ever reaches the cache or an upstream. Names with several components work; the split is on the
 * last {@code /manifests/} (or {@code /blobs/}, {@code /referrers/}) whose remainder has no slash.
 */
public final class RouteParser {
    private static final String[] KEYWORDS = {"/manifests/", "/blobs/", "/referrers/"};
    private static final String TAGS_LIST = "/tags/list";
    private static final String CATALOG = "_catalog";

    private RouteParser() {}

    /** The outcome of parsing: exactly one of route and error is present. */
    public record Parsed(Optional<Route> route, Optional<ApiError> error, Map<String, String> query) {
        static Parsed ok(Route route, Map<String, String> query) {
            return new Parsed(Optional.of(route), Optional.empty(), query);
        }

        static Parsed fail(ErrorCode code, String message) {
            return new Parsed(Optional.empty(), Optional.of(new ApiError(code, message)), Map.of());
        }
    }

    public static Parsed parse(String method, String uri) {
        if (!method.equals("GET") && !method.equals("HEAD")) {
            return Parsed.fail(ErrorCode.UNSUPPORTED, "this registry is a read-only pull-through cache; " + method + " is not supported");
        }
        int q = uri.indexOf('?');
        String rawPath = q < 0 ? uri : uri.substring(0, q);
        Map<String, String> query;
        String path;
        try {
            query = q < 0 ? Map.of() : parseQuery(uri.substring(q + 1));
            path = percentDecode(rawPath);
        } catch (IllegalArgumentException e) {
            return Parsed.fail(ErrorCode.BAD_REQUEST, e.getMessage());
        }
        if (path.equals("/v2") || path.equals("/v2/")) {
            return Parsed.ok(new Route.Base(), query);
        }
        if (!path.startsWith("/v2/")) {
            return Parsed.fail(ErrorCode.NOT_FOUND, "no such endpoint; the registry API is under /v2/");
        }
        String rest = path.substring("/v2/".length());
        try {
            if (rest.equals(CATALOG)) {
                return Parsed.ok(new Route.Catalog(pageSize(query.get("n")), Optional.ofNullable(query.get("last"))), query);
            }
            return routeFor(rest, query);
        } catch (InvalidDigestException e) {
            return Parsed.fail(ErrorCode.DIGEST_INVALID, e.getMessage());
        } catch (InvalidNameException e) {
            return Parsed.fail(ErrorCode.NAME_INVALID, e.getMessage());
        }
    }

    private static Parsed routeFor(String rest, Map<String, String> query) {
        if (rest.endsWith(TAGS_LIST)) {
            RepositoryName name = RepositoryName.parse(rest.substring(0, rest.length() - TAGS_LIST.length()));
            return Parsed.ok(new Route.Tags(name, pageSize(query.get("n")), Optional.ofNullable(query.get("last"))), query);
        }
        int best = -1;
        String keyword = null;
        for (String k : KEYWORDS) {
            int i = rest.lastIndexOf(k);
            if (i > best && rest.indexOf('/', i + k.length()) < 0) {
                best = i;
                keyword = k;
            }
        }
        if (keyword == null || best == 0) {
            return Parsed.fail(ErrorCode.NOT_FOUND, "no such endpoint");
        }
        RepositoryName name = RepositoryName.parse(rest.substring(0, best));
        String last = rest.substring(best + keyword.length());
        switch (keyword) {
            case "/manifests/":
                try {
                    return Parsed.ok(new Route.Manifest(name, Reference.parse(last)), query);
                } catch (IllegalArgumentException e) {
                    // No manifest can be known by a name that is neither a tag nor a digest: the OCI
                    // conformance suite asks for .INVALID_MANIFEST_NAME and expects 404, as registries answer.
                    return Parsed.fail(ErrorCode.MANIFEST_UNKNOWN, "no manifest is known by this reference: " + e.getMessage());
                }
            case "/blobs/":
                return Parsed.ok(new Route.Blob(name, Digest.parse(last)), query);
            default:
                return Parsed.ok(new Route.Referrers(name, Digest.parse(last), Optional.ofNullable(query.get("artifactType"))), query);
        }
    }

    private static Optional<Integer> pageSize(String n) {
        if (n == null) {
            return Optional.empty();
        }
        try {
            int value = Integer.parseInt(n);
            if (value >= 0) {
                return Optional.of(value);
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new InvalidNameException("n must be a non-negative number");
    }

    private static Map<String, String> parseQuery(String query) {
        Map<String, String> out = new HashMap<>();
        for (String pair : query.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String key = percentDecode(eq < 0 ? pair : pair.substring(0, eq).replace('+', ' '));
            String value = eq < 0 ? "" : percentDecode(pair.substring(eq + 1).replace('+', ' '));
            out.putIfAbsent(key, value);
        }
        return out;
    }

    /** Decodes %XX escapes as UTF-8; a malformed escape is refused rather than guessed at. */
    static String percentDecode(String text) {
        if (text.indexOf('%') < 0) {
            return text;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '%') {
                if (i + 2 >= text.length()) {
                    throw new IllegalArgumentException("malformed percent-escape in the request path");
                }
                int hi = Character.digit(text.charAt(i + 1), 16);
                int lo = Character.digit(text.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) {
                    throw new IllegalArgumentException("malformed percent-escape in the request path");
                }
                out.write(hi << 4 | lo);
                i += 2;
            } else {
                byte[] bytes = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                out.write(bytes, 0, bytes.length);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
