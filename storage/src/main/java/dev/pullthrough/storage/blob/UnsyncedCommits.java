package dev.pullthrough.storage.blob;

import dev.pullthrough.oci.Digest;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The blobs committed but not yet known to be on the disk, as one empty marker file each in
 * {@code unsynced/} (issue 28). A marker is created before its blob's rename and removed only after
 * the blob's bytes were synced, so a start that finds markers knows the stop was unclean and which
 * blobs to re-hash. Markers, not an index record: RocksDB's log is not synced per write, and a lost
 * record with a surviving rename would be a torn blob nobody checks; a marker and the rename are
 * metadata of one journaled file system, written in that order. Each marker is a hard link to one
 * shared empty file beside the directory, not a file of its own: a new inode per commit, and freeing
 * it again at the sync, was most of a small cold blob's file system time (issue 28: ext4 scans past
 * recently freed inodes for every new one), while a link is a directory entry, journaled the same way.
 */
public final class UnsyncedCommits {
    private final Path dir;
    /** The empty file every marker links to; outside {@code dir}, so that the directory holds markers only. */
    private final Path shared;

    public UnsyncedCommits(Path dir) {
        this.dir = dir;
        this.shared = dir.resolveSibling(dir.getFileName() + ".marker");
    }

    /** Records {@code digest} as not yet durable; harmless when it already is recorded. */
    public void record(Digest digest) throws IOException {
        Path marker = marker(digest);
        try {
            link(marker);
        } catch (FileAlreadyExistsException e) {
            // an earlier commit of the same digest is still owed: one marker covers both
        }
    }

    /**
     * The marker as a link to the shared file; where there is no directory or shared file yet, they
     * are made first, and where the file system takes no more links (or none), an empty file of its own.
     */
    private void link(Path marker) throws IOException {
        try {
            Files.createLink(marker, shared);
            return;
        } catch (NoSuchFileException e) {
            // the first commit (or someone removed the directory or the shared file): make them and try again
        } catch (FileAlreadyExistsException e) {
            throw e;
        } catch (IOException | UnsupportedOperationException e) {
            Files.createFile(marker); // too many links (ext4 allows 65,000), or no hard links here
            return;
        }
        Files.createDirectories(dir);
        try {
            Files.createFile(shared);
        } catch (FileAlreadyExistsException e) {
            // another commit made it meanwhile
        }
        try {
            Files.createLink(marker, shared);
        } catch (FileAlreadyExistsException e) {
            throw e;
        } catch (IOException | UnsupportedOperationException e) {
            Files.createFile(marker);
        }
    }

    /** Forgets {@code digest}: its bytes are on the disk, or it was checked after a crash. */
    public void settle(Digest digest) throws IOException {
        Files.deleteIfExists(marker(digest));
    }

    /** The digests recorded as not yet durable (what a start after a crash re-hashes). */
    public List<Digest> recorded() throws IOException {
        List<Digest> digests = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return digests;
        }
        try (var markers = Files.list(dir)) {
            for (Path marker : (Iterable<Path>) markers::iterator) {
                String name = marker.getFileName().toString();
                int dash = name.indexOf('-');
                try {
                    digests.add(Digest.parse(name.substring(0, Math.max(dash, 0)) + ":" + name.substring(dash + 1)));
                } catch (IllegalArgumentException | StringIndexOutOfBoundsException e) {
                    Files.deleteIfExists(marker); // not ours
                }
            }
        }
        return digests;
    }

    private Path marker(Digest digest) {
        // "sha256-<hex>": a colon is not a portable file name character
        return dir.resolve(digest.algorithm() + "-" + digest.hex());
    }
}
