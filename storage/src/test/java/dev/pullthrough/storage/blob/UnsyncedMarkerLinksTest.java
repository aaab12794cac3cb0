package dev.pullthrough.storage.blob;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The markers of commits owed to the disk are links to one shared empty file, not a new inode each
 * (issue 28: creating and freeing an inode per small cold blob was most of its file system time); the
 * markers directory still holds markers only, and what a start after a crash reads is unchanged.
 */
class UnsyncedMarkerLinksTest {
    @TempDir
    Path root;

    private static Digest digest(String text) {
        return Digest.sha256Of(text.getBytes(StandardCharsets.UTF_8));
    }

    private static Object inode(Path file) throws IOException {
        return Files.getAttribute(file, "unix:ino");
    }

    private Path unsyncedDir() {
        return new BlobPaths(root).unsyncedDir();
    }

    // ---------------------------------------------------------------- record

    @Test
    void record_manyCommits_oneInodeForEveryMarker() throws IOException {
        UnsyncedCommits markers = new UnsyncedCommits(unsyncedDir());
        for (int i = 0; i < 50; i++) {
            markers.record(digest("blob " + i));
        }

        Set<Object> inodes = new HashSet<>();
        try (Stream<Path> files = Files.list(unsyncedDir())) {
            for (Path marker : (Iterable<Path>) files::iterator) {
                inodes.add(inode(marker));
                assertEquals(0, Files.size(marker), "a marker holds no bytes");
            }
        }
        assertEquals(1, inodes.size(), "every marker is a link to the one shared file");
        assertEquals(50, markers.recorded().size(), "the directory holds the markers only");
    }

    @Test
    void record_sameDigestTwice_oneMarker() throws IOException {
        UnsyncedCommits markers = new UnsyncedCommits(unsyncedDir());

        markers.record(digest("twice"));
        markers.record(digest("twice"));

        assertEquals(List.of(digest("twice")), markers.recorded());
    }

    @Test
    void settle_lastMarker_sharedFileStaysAndNextRecordLinksAgain() throws IOException {
        UnsyncedCommits markers = new UnsyncedCommits(unsyncedDir());
        markers.record(digest("a"));
        markers.settle(digest("a"));
        assertEquals(List.of(), markers.recorded());

        markers.record(digest("b"));

        assertEquals(List.of(digest("b")), markers.recorded());
    }

    @Test
    void record_directoryRemovedMeanwhile_madeAgain() throws IOException {
        UnsyncedCommits markers = new UnsyncedCommits(unsyncedDir());
        markers.record(digest("a"));
        markers.settle(digest("a"));
        Files.delete(unsyncedDir());

        markers.record(digest("b"));

        assertEquals(List.of(digest("b")), new UnsyncedCommits(unsyncedDir()).recorded(), "a new instance reads what was recorded");
    }

    @Test
    void record_sharedFileCannotBeLinked_emptyFileOfItsOwn() throws IOException {
        // A directory where the shared file belongs: no link can be made to it, as on a file system without hard links.
        Files.createDirectories(unsyncedDir().resolveSibling(unsyncedDir().getFileName() + ".marker"));
        UnsyncedCommits markers = new UnsyncedCommits(unsyncedDir());
        Files.createDirectories(unsyncedDir());

        markers.record(digest("a"));

        assertEquals(List.of(digest("a")), markers.recorded());
        try (Stream<Path> files = Files.list(unsyncedDir())) {
            assertTrue(files.allMatch(Files::isRegularFile));
        }
    }
}
