package dev.pullthrough.storage.blob;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.testing.MovableClock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The durability bookkeeping of batched syncs (issue 28): what is owed, when it is synced, when the mark moves. */
class BatchedSyncTest {
    private static final Duration WINDOW = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    private final MovableClock clock = new MovableClock();
    private final List<Path> synced = new CopyOnWriteArrayList<>();
    private final List<Runnable> kicks = new ArrayList<>();

    private BlobPaths paths() {
        return new BlobPaths(dir);
    }

    private BatchedSync batched(BatchedSync.FileSync sync, long windowBytes) {
        return new BatchedSync(new UnsyncedCommits(paths().unsyncedDir()), sync, clock, WINDOW, windowBytes, kicks::add);
    }

    private BatchedSync batched() {
        return batched(synced::add, 1L << 30);
    }

    private static Digest commit(FileBlobStore blobs, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        Digest digest = Digest.sha256Of(bytes);
        try (BlobWriter writer = blobs.newWriter(digest)) {
            writer.write(ByteBuffer.wrap(bytes));
            writer.commit();
        }
        return digest;
    }

    private List<Digest> owedOnDisk() throws IOException {
        return new UnsyncedCommits(paths().unsyncedDir()).recorded();
    }

    // ---------------------------------------------------------------- commit

    @Test
    void commit_batched_servableAtOnceRecordedOwedNothingSynced() throws IOException {
        BatchedSync sync = batched();
        FileBlobStore blobs = new FileBlobStore(paths(), sync);

        Digest digest = commit(blobs, "a layer");

        assertTrue(blobs.stat(digest).isPresent(), "renamed under its digest at once");
        assertEquals(List.of(digest), owedOnDisk());
        assertEquals(List.of(), synced, "no sync on the committing thread");
        assertEquals(1, sync.committedThrough());
        assertEquals(0, sync.durableThrough());
        assertEquals(7, sync.owedBytes());
    }

    // ---------------------------------------------------------------- the window

    @Test
    void syncIfDue_windowNotOver_syncsNothing_windowOver_syncsEveryCommitAndMovesTheMark() throws IOException {
        BatchedSync sync = batched();
        FileBlobStore blobs = new FileBlobStore(paths(), sync);
        Digest first = commit(blobs, "first");
        clock.advance(Duration.ofSeconds(3));
        Digest second = commit(blobs, "second");

        clock.advance(Duration.ofMillis(1_999));
        sync.syncIfDue();
        assertEquals(List.of(), synced, "the first commit is not a window old yet");
        assertEquals(0, sync.durableThrough());

        clock.advance(Duration.ofMillis(1));
        sync.syncIfDue();

        assertEquals(List.of(paths().blob(first), paths().blob(second)), synced, "the whole batch, in commit order");
        assertEquals(2, sync.durableThrough());
        assertEquals(List.of(), owedOnDisk());
        assertEquals(0, sync.owedBytes());
    }

    @Test
    void afterRename_windowBytesOwed_startsASyncOnTheSyncThreadOnce() throws IOException {
        BatchedSync sync = batched(synced::add, 10);
        FileBlobStore blobs = new FileBlobStore(paths(), sync);
        commit(blobs, "six b");
        assertEquals(0, kicks.size(), "5 of 10 bytes owed");
        commit(blobs, "six by");
        commit(blobs, "and more");
        assertEquals(1, kicks.size(), "one sync started by the bytes, not one per commit");
        assertEquals(List.of(), synced, "not on the committing thread");

        kicks.get(0).run(); // the sync thread

        assertEquals(3, synced.size());
        assertEquals(3, sync.durableThrough());
    }

    // ---------------------------------------------------------------- the mark moves only after the sync

    @Test
    void syncNow_whileTheSyncRuns_markAndMarkerStayUntilItReturned() throws Exception {
        CountDownLatch syncing = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        BatchedSync sync = batched(file -> {
            syncing.countDown();
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            synced.add(file);
        }, 1L << 30);
        FileBlobStore blobs = new FileBlobStore(paths(), sync);
        Digest digest = commit(blobs, "slow disk");

        CompletableFuture<Void> running = CompletableFuture.runAsync(sync::syncNow);
        assertTrue(syncing.await(10, TimeUnit.SECONDS));
        assertEquals(0, sync.durableThrough(), "the mark waits for the sync");
        assertEquals(List.of(digest), owedOnDisk(), "the marker waits for the sync");
        assertEquals(9, sync.owedBytes(), "still owed while being synced");

        release.countDown();
        running.get(10, TimeUnit.SECONDS);

        assertEquals(1, sync.durableThrough());
        assertEquals(List.of(), owedOnDisk());
    }

    @Test
    void syncNow_syncFails_staysOwedAndMarkedThenSyncedByTheNextOne() throws IOException {
        boolean[] fail = {true};
        BatchedSync sync = batched(file -> {
            if (fail[0]) {
                throw new IOException("EIO");
            }
            synced.add(file);
        }, 1L << 30);
        FileBlobStore blobs = new FileBlobStore(paths(), sync);
        Digest digest = commit(blobs, "bad sector");

        sync.syncNow();
        assertEquals(0, sync.durableThrough());
        assertEquals(List.of(digest), owedOnDisk());

        fail[0] = false;
        sync.syncNow();
        assertEquals(1, sync.durableThrough());
        assertEquals(List.of(), owedOnDisk());
    }

    @Test
    void syncNow_sameDigestCommittedAgainMeanwhile_markerKeptForTheNewerCommit() throws Exception {
        CountDownLatch syncing = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        BatchedSync sync = batched(file -> {
            syncing.countDown();
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, 1L << 30);
        FileBlobStore blobs = new FileBlobStore(paths(), sync);
        Digest digest = commit(blobs, "evicted and fetched again");
        CompletableFuture<Void> running = CompletableFuture.runAsync(sync::syncNow);
        assertTrue(syncing.await(10, TimeUnit.SECONDS));
        Files.delete(paths().blob(digest));
        commit(blobs, "evicted and fetched again"); // the same digest, committed after the sync began

        release.countDown();
        running.get(10, TimeUnit.SECONDS);

        assertEquals(List.of(digest), owedOnDisk(), "the second commit is still owed");
        assertEquals(1, sync.durableThrough());
    }

    // ---------------------------------------------------------------- each commit

    @Test
    void eachCommit_noMarkerLeft() throws IOException {
        FileBlobStore blobs = new FileBlobStore(paths());
        commit(blobs, "synced before its rename");
        assertEquals(List.of(), owedOnDisk());
    }
}
