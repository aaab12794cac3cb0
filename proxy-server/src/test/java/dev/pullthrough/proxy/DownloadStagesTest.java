package dev.pullthrough.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The per-stage line a big download logs: each figure from its own stage, in the units it names. */
class DownloadStagesTest {
    private static final long MS = 1_000_000L;

    @Test
    void describe_eachStageFromItsOwnFigures() {
        DownloadStages stages = new DownloadStages();
        // Four chunks read from t = 1,000 ms to t = 1,500 ms: 512 MiB over 0.5 s.
        for (long at : new long[] {1_000, 1_100, 1_300, 1_500}) {
            stages.read(at * MS);
        }
        stages.wrote(40 * MS);
        stages.wrote(60 * MS);
        stages.hashed(300 * MS);
        stages.hashed(120 * MS);
        stages.readsWaited(250 * MS);
        stages.verified(1_502 * MS + 500_000);
        stages.sentFromMemory(300L << 20);
        stages.sentFromMemory(200L << 20);

        assertEquals("512 MiB in 4 chunks over 0.50 s (1024 MiB/s): reads waited 0.25 s, file 0.10 s, hash 0.42 s,"
                + " verified 2.5 ms after the last byte; 500 MiB sent from memory", stages.describe(512L << 20));
    }

    @Test
    void describe_readsWaitedUnknown_saysSo() {
        DownloadStages stages = new DownloadStages();
        stages.read(0);
        stages.verified(MS);

        assertEquals("1 MiB in 1 chunk over 0.00 s (-): reads waited -, file 0.00 s, hash 0.00 s, verified 1.0 ms after the last byte;"
                + " 0 MiB sent from memory", stages.describe(1L << 20));
    }
}
