package dev.pullthrough.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * What a cold download's clients copy from memory (issue 28): a chunk is there until the hash and
 * the file are both done with it, then goes back to the transport exactly once; copies run across
 * chunks without a gap and stop where memory stops.
 */
class HeldChunksTest {
    private final HeldChunks held = new HeldChunks();
    private final AtomicInteger givenBack = new AtomicInteger();

    private HeldChunks.Chunk add(long offset, byte[] bytes) {
        return held.add(offset, ByteBuffer.wrap(bytes), givenBack::incrementAndGet);
    }

    @Test
    void copy_acrossHeldChunks_fromAnyOffset() {
        add(0, bytes(0, 10));
        add(10, bytes(10, 10));

        ByteBuffer into = ByteBuffer.allocate(15);
        assertEquals(15, held.copy(3, into));
        assertArrayEquals(bytes(3, 15), into.array(), "offset 3 on, through the second chunk");

        ByteBuffer rest = ByteBuffer.allocate(100);
        assertEquals(2, held.copy(18, rest), "up to where memory ends");
        assertEquals(0, held.copy(20, ByteBuffer.allocate(4)), "nothing past the last chunk");
    }

    @Test
    void chunk_givenBackOnlyOnceHashAndFileAreDone_thenNotCopiedAnyMore() {
        HeldChunks.Chunk first = add(0, bytes(0, 8));
        add(8, bytes(8, 8));

        first.release(); // hashed
        assertEquals(0, givenBack.get(), "the file still needs it");
        assertEquals(8, held.copy(0, ByteBuffer.allocate(8)), "still held for clients");

        first.release(); // in the file
        assertEquals(1, givenBack.get(), "given back once both are done");
        assertEquals(0, held.copy(0, ByteBuffer.allocate(8)), "a client now reads these bytes from the file");
        assertEquals(8, held.copy(8, ByteBuffer.allocate(8)), "the next chunk is still held");
        assertEquals(1, givenBack.get(), "a copy neither gives back nor keeps a chunk");
    }

    @Test
    void copy_stopsAtAGap_whereTheBytesAreInTheFile() {
        HeldChunks.Chunk first = add(0, bytes(0, 4));
        HeldChunks.Chunk second = add(4, bytes(4, 4));
        add(8, bytes(8, 4));
        second.release();
        second.release();

        assertTrue(held.holds(0) && held.holds(3) && held.holds(8) && held.holds(11), "the held chunks' bytes");
        assertFalse(held.holds(4) || held.holds(7) || held.holds(12), "the given-back chunk's and those not arrived");
        ByteBuffer into = ByteBuffer.allocate(12);
        assertEquals(4, held.copy(0, into), "the first chunk only: the second is in the file now");
        assertArrayEquals(bytes(0, 4), Arrays.copyOf(into.array(), 4));
        first.release();
        first.release();
        assertEquals(2, givenBack.get());
    }

    private static byte[] bytes(int from, int length) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) (from + i);
        }
        return bytes;
    }
}
