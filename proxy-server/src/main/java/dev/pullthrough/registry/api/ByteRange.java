package dev.pullthrough.registry.api;

import java.util.Optional;

/**
 * A single {@code Range: bytes=...} request resolved against a blob's size (RFC 9110 14.1).
 * Forms: {@code a-b}, {@code a-}, {@code -n}. Anything else (several ranges, other units, bad
 * syntax) is ignored and the whole blob is sent, which the RFC allows.
 */
public record ByteRange(long start, long endInclusive, long size) {

    /** The outcome for one request: the whole blob, a part, or nothing satisfiable (416). */
    public sealed interface Resolution {}

    /** No usable Range header: send everything with 200. */
    public record Whole() implements Resolution {}

    /** Send {@code range} with 206. */
    public record Part(ByteRange range) implements Resolution {}

    /** The range lies beyond the blob: 416 with {@code Content-Range: bytes * /size}. */
    public record Unsatisfiable(long size) implements Resolution {}

    public long length() {
        return endInclusive - start + 1;
    }

    /** The {@code Content-Range} header value of this part. */
    public String contentRange() {
        return "bytes " + start + "-" + endInclusive + "/" + size;
    }

    public static Resolution resolve(Optional<String> header, long size) {
        if (header.isEmpty()) {
            return new Whole();
        }
        String value = header.get().trim();
        if (!value.startsWith("bytes=") || value.indexOf(',') >= 0) {
            return new Whole();
        }
        String spec = value.substring("bytes=".length()).trim();
        int dash = spec.indexOf('-');
        if (dash < 0) {
            return new Whole();
        }
        try {
            String first = spec.substring(0, dash).trim();
            String last = spec.substring(dash + 1).trim();
            if (!digitsOrEmpty(first) || !digitsOrEmpty(last)) {
                // RFC 9110 14.1.1: positions are 1*DIGIT; "bytes=--1" or "bytes=+1-" is no valid range, so
                // it is ignored (Long.parseLong alone would take "-1" for a suffix of -1 and answer 416).
                return new Whole();
            }
            if (first.isEmpty()) {
                if (last.isEmpty()) {
                    return new Whole(); // "bytes=-": neither a start nor a suffix
                }
                long suffix = Long.parseLong(last);
                if (suffix == 0) {
                    return new Unsatisfiable(size);
                }
                long start = Math.max(0, size - suffix);
                return size == 0 ? new Unsatisfiable(size) : new Part(new ByteRange(start, size - 1, size));
            }
            long start = Long.parseLong(first);
            if (start >= size) {
                return new Unsatisfiable(size);
            }
            long end = last.isEmpty() ? size - 1 : Long.parseLong(last);
            if (end < start) {
                return new Whole();
            }
            return new Part(new ByteRange(start, Math.min(end, size - 1), size));
        } catch (NumberFormatException e) {
            return new Whole();
        }
    }

    private static boolean digitsOrEmpty(String text) {
        for (int i = 0; i < text.length(); i++) {
            if (text.charAt(i) < '0' || text.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }
}
