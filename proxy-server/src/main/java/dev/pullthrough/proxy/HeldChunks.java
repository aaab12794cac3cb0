package dev.pullthrough.proxy;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The chunks of a download that arrived and are not yet both hashed and in the file, by offset:
 * what its clients send from memory. A chunk goes back to the transport (its {@code consumed}) when
 * the hash and the file are done with it and no client is copying from it, so every byte received
 * is at any moment either here or in the file, and a client copies a chunk only while it is held.
 */
final class HeldChunks {
    /** One chunk: used by the hash, the file, and each client copying from it at the moment. */
    static final class Chunk {
        private final HeldChunks owner;
        final long offset;
        private final ByteBuffer bytes;
        private final Runnable consumed;
        private final AtomicInteger users = new AtomicInteger(2);

        private Chunk(HeldChunks owner, long offset, ByteBuffer bytes, Runnable consumed) {
            this.owner = owner;
            this.offset = offset;
            this.bytes = bytes.asReadOnlyBuffer();
            this.consumed = consumed;
        }

        long end() {
            return offset + bytes.remaining();
        }

        private boolean tryUse() {
            for (int now = users.get(); now > 0; now = users.get()) {
                if (users.compareAndSet(now, now + 1)) {
                    return true;
                }
            }
            return false;
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

    /** Holds a chunk that just arrived; its two first users are the hash and the file. */
    Chunk add(long offset, ByteBuffer bytes, Runnable consumed) {
        Chunk chunk = new Chunk(this, offset, bytes, consumed);
        chunks.put(offset, chunk);
        return chunk;
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
            Map.Entry<Long, Chunk> entry = chunks.floorEntry(at);
            if (entry == null) {
                break;
            }
            Chunk chunk = entry.getValue();
            if (at >= chunk.end() || !chunk.tryUse()) {
                break;
            }
            try {
                ByteBuffer from = chunk.bytes.duplicate();
                from.position(from.position() + (int) (at - chunk.offset));
                if (from.remaining() > into.remaining()) {
                    from.limit(from.position() + into.remaining());
                }
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
