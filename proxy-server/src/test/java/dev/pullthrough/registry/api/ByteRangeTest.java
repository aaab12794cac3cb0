package dev.pullthrough.registry.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class ByteRangeTest {
    private static ByteRange part(String header, long size) {
        return ((ByteRange.Part) ByteRange.resolve(Optional.of(header), size)).range();
    }

    @Test
    void resolve_forms() {
        assertEquals(new ByteRange(0, 9, 100), part("bytes=0-9", 100));
        assertEquals(new ByteRange(90, 99, 100), part("bytes=90-", 100));
        assertEquals(new ByteRange(90, 99, 100), part("bytes=-10", 100));
        assertEquals(new ByteRange(50, 99, 100), part("bytes=50-500", 100));
        assertEquals(new ByteRange(0, 99, 100), part("bytes=-500", 100));
    }

    @Test
    void resolve_beyondSize_unsatisfiable() {
        assertInstanceOf(ByteRange.Unsatisfiable.class, ByteRange.resolve(Optional.of("bytes=100-"), 100));
        assertInstanceOf(ByteRange.Unsatisfiable.class, ByteRange.resolve(Optional.of("bytes=100-200"), 100));
    }

    @Test
    void resolve_overFourGiB_longOffsets() {
        long size = 5L << 30;
        ByteRange range = part("bytes=" + (size - 2) + "-", size);
        assertEquals(size - 2, range.start());
        assertEquals("bytes 5368709118-5368709119/5368709120", range.contentRange());
    }

    @Test
    void resolve_unusableHeaders_wholeBlob() {
        for (String header : new String[] {"items=0-1", "bytes=0-1,5-6", "bytes=x-y", "bytes=5-1", "bytes"}) {
            assertInstanceOf(ByteRange.Whole.class, ByteRange.resolve(Optional.of(header), 100), header);
        }
    }
}
