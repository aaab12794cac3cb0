package dev.pullthrough.proxy;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The chunks of a download that arrived and are not yet both hashed and in the file, by offset:
 * what its clients send from memory. A chunk goes back to the transport (its {@code consumed}) when
 * the hash and the file are done with it and no client is copying from it, so every byte received
 * is at any moment either here or in the file, and a client copies a chunk only while it is held.
 * <p>While the download has a lone reader, each chunk that arrives is also held for that reader
 * until it has passed it ({@link #holdForReader}): the download then goes at that client's pace and
 * the client never falls behind memory. Fallen behind, it would read the file back, from the disk
 * for a file written direct, more slowly than the download goes on, and never catch up again (issue
 * 28: a lone cold client sent 2-110 of 512 MiB from memory and got 310-430 MiB/s).
 */
final class HeldChunks {
    /** One chunk: used by the hash, the file, and each client copying from it at the moment. */
    static final class Chunk {
        private final HeldChunks owner;
        final long offset;
        private final ByteBuffer bytes;
        private final Runnable consumed;
        private final AtomicInteger users;
        /** Set while the lone reader has not passed this chunk; it then counts as one more user. */
        private final AtomicBoolean forReader;

        private Chunk(HeldChunks owner, long offset, ByteBuffer bytes, Runnable consumed, boolean forReader) {
            this.owner = owner;
            this.offset = offset;
            this.bytes = bytes.duplicate(); // only duplicates leave: nobody moves this one's position
            this.consumed = consumed;
            this.forReader = new AtomicBoolean(forReader);
            this.users = new AtomicInteger(forReader ? 3 : 2);
        }

        long end() {
            return offset + bytes.remaining();
        }

        /** A view of the bytes from {@code at} (inside this chunk) on, at most {@code max}, for a user that holds it. */
        private ByteBuffer from(long at, int max) {
            ByteBuffer view = bytes.duplicate();
            view.position(view.position() + (int) (at - offset));
            if (view.remaining() > max) {
                view.limit(view.position() + max);
            }
            return view;
        }

        private boolean tryUse() {
            for (int now = users.get(); now > 0; now = users.get()) {
                if (users.compareAndSet(now, now + 1)) {
                    return true;
                }
            }
            return false;
        }

        /** The lone reader passed the chunk, or is no longer waited for: its hold goes, once. */
        void letReaderGo() {
            if (forReader.compareAndSet(true, false)) {
                release();
            }
        }

        /** The hash, the file or a client is done with the chunk; the last one gives it back. */
        void release() {
            if (users.decrementAndGet() == 0) {
                owner.chunks.remove(offset, this);
                consumed.run();
            }
        }
    }

    private final ConcurrentSkipListMap<Long, Chunk> chunks = new ConcurrentSkipListMap<>();
    /** Whether chunks that arrive are held for the lone reader too. */
    private volatile boolean holdForReader;
    /** Once no reader is waited for, none is again: the download's crowd or its slow client stays. */
    private volatile boolean readerLetGo;

    /**
     * Holds a chunk that just arrived; its first users are the hash and the file, and the lone
     * reader while chunks are held for one.
     */
    Chunk add(long offset, ByteBuffer bytes, Runnable consumed) {
        Chunk chunk = new Chunk(this, offset, bytes, consumed, holdForReader);
        chunks.put(offset, chunk);
        if (!holdForReader) {
            // stopped meanwhile: its sweep of the held chunks may have run before this one was in
            chunk.letReaderGo();
        }
        return chunk;
    }

    /** From now on chunks that arrive wait for the lone reader too (until {@link #stopHoldingForReader}). */
    void holdForReader() {
        holdForReader = true;
        if (readerLetGo) {
            // a second reader or a stall came first: this late call must not hold again
            stopHoldingForReader();
        }
    }

    /**
     * No reader is waited for any more (a second one came, the lone one left or stalled): each chunk
     * goes back once the hash and the file are done with it, those already done at once.
     */
    void stopHoldingForReader() {
        readerLetGo = true;
        holdForReader = false;
        for (Chunk chunk : chunks.values()) {
            chunk.letReaderGo();
        }
    }

    boolean holdingForReader() {
        return holdForReader;
    }

    /**
     * The held bytes from {@code offset} on, to the end of their chunk and at most {@code max}, lent
     * to a client without a copy: the chunk stays held until the loan is given back (once the client's
     * socket took the bytes). Null when memory no longer holds {@code offset}: the file has it.
     */
    Loan lend(long offset, int max) {
        Chunk chunk = useAt(offset);
        return chunk == null ? null : new Loan(chunk.from(offset, max).slice(), chunk);
    }

    /** The chunk that holds {@code offset}, with a use taken for the caller to release; null when none does. */
    private Chunk useAt(long offset) {
        Map.Entry<Long, Chunk> entry = chunks.floorEntry(offset);
        if (entry == null) {
            return null;
        }
        Chunk chunk = entry.getValue();
        return offset < chunk.end() && chunk.tryUse() ? chunk : null;
    }

    /** Bytes of a held chunk lent to a client; {@link #giveBack} once, when the client is done with them. */
    static final class Loan implements GrowingBlob.Lent {
        private final ByteBuffer bytes;
        private final Chunk chunk;
        private final AtomicBoolean returned = new AtomicBoolean();

        private Loan(ByteBuffer bytes, Chunk chunk) {
            this.bytes = bytes;
            this.chunk = chunk;
        }

        @Override
        public ByteBuffer bytes() {
            return bytes;
        }

        @Override
        public void giveBack() {
            if (returned.compareAndSet(false, true)) {
                chunk.release();
            }
        }
    }

    /** The reader has sent every byte below {@code offset}, from memory or the file: the chunks it passed need not wait for it. */
    void readerAt(long offset) {
        if (!holdForReader) {
            // No chunk waits for a reader (stopping let each go, and add() any that raced it): this
            // spares a crowd's readers a walk over the held chunks on every chunk they send.
            return;
        }
        for (Chunk chunk : chunks.headMap(offset).values()) {
            if (chunk.end() > offset) {
                break;
            }
            chunk.letReaderGo();
        }
    }

    /** Whether the byte at {@code offset} is held now (it may be let go right after). */
    boolean holds(long offset) {
        Map.Entry<Long, Chunk> entry = chunks.floorEntry(offset);
        return entry != null && offset < entry.getValue().end();
    }

    /**
     * Copies bytes from {@code offset} on into {@code into}, as far as held chunks reach without a
     * gap; returns how many (0 when the bytes at {@code offset} are no longer held: then they are in the file).
     */
    int copy(long offset, ByteBuffer into) {
        int copied = 0;
        long at = offset;
        while (into.hasRemaining()) {
            Chunk chunk = useAt(at);
            if (chunk == null) {
                break;
            }
            try {
                ByteBuffer from = chunk.from(at, into.remaining());
                int length = from.remaining();
                into.put(from);
                copied += length;
                at += length;
            } finally {
                chunk.release();
            }
        }
        return copied;
    }
}
