package dev.pullthrough.registry.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * Issue 26: a {@code Range} header that is not a valid byte range is ignored (RFC 9110 14.1.1 and
 * 14.2: the whole body with 200), never taken for an unsatisfiable one (416).
 */
class InvalidByteRangeTest {

    private static ByteRange.Resolution resolve(String header) {
        return ByteRange.resolve(Optional.of(header), 100);
    }

    @Test
    void resolve_negativeSuffix_ignoredWholeBody() {
        assertInstanceOf(ByteRange.Whole.class, resolve("bytes=--1"));
    }

    @Test
    void resolve_signedPositions_ignoredWholeBody() {
        assertInstanceOf(ByteRange.Whole.class, resolve("bytes=+1-5"));
        assertInstanceOf(ByteRange.Whole.class, resolve("bytes=1-+5"));
        assertInstanceOf(ByteRange.Whole.class, resolve("bytes=-+5"));
        assertInstanceOf(ByteRange.Whole.class, resolve("bytes=-"));
    }

    @Test
    void resolve_validForms_unchanged() {
        assertEquals(new ByteRange(95, 99, 100), ((ByteRange.Part) resolve("bytes=-5")).range());
        assertEquals(new ByteRange(1, 5, 100), ((ByteRange.Part) resolve("bytes=1-5")).range());
        assertInstanceOf(ByteRange.Unsatisfiable.class, resolve("bytes=-0"), "a valid zero-length suffix selects nothing");
        assertInstanceOf(ByteRange.Unsatisfiable.class, resolve("bytes=100-"));
    }
}
