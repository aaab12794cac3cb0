package dev.pullthrough.proxy;

import java.util.ArrayDeque;

/**
 * At most so many upstream blob downloads at once; the others wait their turn in order. A slot is
 * held until its download ends (a slow one is aborted at its rate floor, which frees it).
 */
final class DownloadSlots {
    private final int slots;
    private final ArrayDeque<Runnable> waiting = new ArrayDeque<>();
    private int used;

    DownloadSlots(int slots) {
        this.slots = slots;
    }

    /** Runs {@code start} now if a slot is free, else when one is. */
    void whenFree(Runnable start) {
        synchronized (this) {
            if (used >= slots) {
                waiting.add(start);
                return;
            }
            used++;
        }
        start.run();
    }

    /** A download ended: its slot goes to the next waiting one. */
    void release() {
        Runnable next;
        synchronized (this) {
            next = waiting.poll();
            if (next == null) {
                used--;
                return;
            }
        }
        next.run();
    }
}
