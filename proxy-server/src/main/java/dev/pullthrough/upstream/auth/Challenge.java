package dev.pullthrough.upstream.auth;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * One {@code WWW-Authenticate} challenge: its scheme ({@code bearer} or {@code basic}, lower case)
 * and parameters such as {@code realm}, {@code service}, {@code scope}.
 */
public record Challenge(String scheme, Map<String, String> params) {

    /** The challenge in a header value, or empty when it cannot be read. */
    public static Optional<Challenge> parse(String header) {
        if (header == null) {
            return Optional.empty();
        }
        String text = header.trim();
        int space = text.indexOf(' ');
        String scheme = (space < 0 ? text : text.substring(0, space)).toLowerCase(Locale.ROOT);
        if (scheme.isEmpty()) {
            return Optional.empty();
        }
        Map<String, String> params = new LinkedHashMap<>();
        int i = space < 0 ? text.length() : space + 1;
        while (i < text.length()) {
            while (i < text.length() && (text.charAt(i) == ' ' || text.charAt(i) == ',')) {
                i++;
            }
            int eq = text.indexOf('=', i);
            if (eq < 0) {
                break;
            }
            String key = text.substring(i, eq).trim().toLowerCase(Locale.ROOT);
            i = eq + 1;
            StringBuilder value = new StringBuilder();
            if (i < text.length() && text.charAt(i) == '"') {
                i++;
                while (i < text.length() && text.charAt(i) != '"') {
                    if (text.charAt(i) == '\\' && i + 1 < text.length()) {
                        i++;
                    }
                    value.append(text.charAt(i++));
                }
                i++;
            } else {
                while (i < text.length() && text.charAt(i) != ',') {
                    value.append(text.charAt(i++));
                }
            }
            params.put(key, value.toString().trim());
        }
        return Optional.of(new Challenge(scheme, params));
    }

    public Optional<String> param(String name) {
        return Optional.ofNullable(params.get(name));
    }
}
