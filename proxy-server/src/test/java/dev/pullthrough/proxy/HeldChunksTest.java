package dev.pullthrough.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
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

    /** The hash and the file are done with each chunk (their two uses). */
    private static void hashedAndInFile(HeldChunks.Chunk... done) {
        for (HeldChunks.Chunk chunk : done) {
            chunk.release();
            chunk.release();
        }
    }

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

    @Test
    void loneReader_eachChunkWaitsUntilTheReaderPassedIt() {
        held.holdForReader();
        HeldChunks.Chunk first = add(0, bytes(0, 10));
        HeldChunks.Chunk second = add(10, bytes(10, 10));
        hashedAndInFile(first, second);
        assertEquals(0, givenBack.get(), "hash and file are done, the reader is not");

        held.readerAt(9);
        assertEquals(0, givenBack.get(), "the reader is inside the first chunk");
        held.readerAt(15);
        assertEquals(1, givenBack.get(), "past the first chunk: it goes back, once");
        assertEquals(5, held.copy(15, ByteBuffer.allocate(10)), "the second is still held for the reader");
        held.readerAt(20);
        held.readerAt(20);
        assertEquals(2, givenBack.get());
    }

    @Test
    void readerLetGo_whatOnlyItHeldGoesBack_andNoReaderIsWaitedForAgain() {
        held.holdForReader();
        HeldChunks.Chunk done = add(0, bytes(0, 4));
        HeldChunks.Chunk hashedOnly = add(4, bytes(4, 4));
        hashedAndInFile(done);
        hashedOnly.release();

        held.stopHoldingForReader(); // a second reader came, or the lone one stalled
        assertEquals(1, givenBack.get(), "the chunk only the reader held goes back at once");
        assertFalse(held.holdingForReader());
        hashedOnly.release();
        assertEquals(2, givenBack.get(), "the other once the file has it");

        held.holdForReader(); // a late call, from the reader that came first
        HeldChunks.Chunk later = add(8, bytes(8, 4));
        hashedAndInFile(later);
        assertEquals(3, givenBack.get(), "not held for a reader once it was let go");
        assertFalse(held.holdingForReader());
    }

    @Test
    void lend_theHeldBytesWithoutACopy_theChunkStaysUntilTheLoanIsGivenBack() {
        HeldChunks.Chunk chunk = add(0, bytes(0, 10));
        add(10, bytes(10, 10));

        HeldChunks.Loan loan = held.lend(3, 100);
        assertArrayEquals(bytes(3, 7), Arrays.copyOfRange(loan.bytes().array(), loan.bytes().arrayOffset() + loan.bytes().position(),
                loan.bytes().arrayOffset() + loan.bytes().limit()), "from the offset to the end of its chunk, not past it");
        HeldChunks.Loan small = held.lend(6, 4);
        assertEquals(4, small.bytes().remaining(), "at most what was asked for");
        hashedAndInFile(chunk);
        assertEquals(0, givenBack.get(), "lent: the chunk stays after the hash and the file are done");
        loan.giveBack();
        loan.giveBack();
        assertEquals(0, givenBack.get(), "the other loan is still out; a loan counts once");
        small.giveBack();
        assertEquals(1, givenBack.get(), "given back with the last loan");
        assertNull(held.lend(0, 1), "gone: the file has these bytes now");
        assertNull(held.lend(20, 5), "nothing held at the offset");
    }

    private static byte[] bytes(int from, int length) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) (from + i);
        }
        return bytes;
    }
}
