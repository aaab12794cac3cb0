package dev.pullthrough.cli;

import dev.pullthrough.app.StopRequests;
import sun.misc.Signal;

/**
 * SIGTERM and SIGINT handled by {@code serve} itself rather than by the JVM's shutdown (issue 30): a
 * shutdown hook cannot see a second signal (the JVM ignores it while hooks run) and the JVM would
 * exit 143; here the first signal starts the drain, a second cuts it short, and a drained stop exits 0.
 */
final class StopSignals {
    private StopSignals() {}

    static void install(StopRequests stop) {
        for (String name : new String[] {"TERM", "INT"}) {
            // The handler runs on the JVM's signal thread: it only records the signal and returns.
            Signal.handle(new Signal(name), signal -> stop.signalled("SIG" + signal.getName()));
        }
    }
}
