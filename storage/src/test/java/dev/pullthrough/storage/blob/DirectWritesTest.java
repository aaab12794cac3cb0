package dev.pullthrough.storage.blob;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.pullthrough.oci.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Big blobs written past the page cache (issue 28): the bytes in the file are exactly those
 * appended, whatever the chunking and length; what counts as in the file never runs ahead of the
 * file; and a file system without direct I/O is written through the page cache instead.
 */
class DirectWritesTest {
    @TempDir
    Path dir;

    private FileBlobStore directStore() throws IOException {
        FileBlobStore store = new FileBlobStore(new BlobPaths(dir), CommitDurability.EACH_COMMIT, true);
        assumeTrue(store.writesDirect(), "this file system takes no direct writes");
        return store;
    }

    private static Digest digestOf(byte[] bytes) throws Exception {
        return Digest.parse("sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)));
    }

    @Test
    void everyLengthAroundTheStageAndBlockEdges_committedByteForByte() throws Exception {
        FileBlobStore store = directStore();
        int stage = DirectWrites.STAGE;
        int[] lengths = {(int) DirectWrites.FROM_BYTES, stage * 9, stage * 9 + 1, stage * 9 - 1, stage * 9 + 4095, stage * 9 + 4097};
        Random random = new Random(28);
        for (int length : lengths) {
            byte[] bytes = new byte[length];
            random.nextBytes(bytes);
            Digest digest = digestOf(bytes);
            BlobWriter writer = store.newWriter(digest, length);
            assertTrue(writer.direct(), "a blob of " + length + " bytes is written direct");
            for (int at = 0; at < length; ) {
                int chunk = Math.min(length - at, 1 + random.nextInt(300_000)); // upstream reads come in any size
                writer.write(ByteBuffer.wrap(bytes, at, chunk));
                at += chunk;
                assertEquals(at, writer.appended());
                assertTrue(writer.written() <= at && at - writer.written() < stage,
                        "in the file: " + writer.written() + " of " + at + " appended");
                assertEquals(writer.written(), Files.size(writer.tempFile()), "what counts as in the file is the file's length");
            }
            StoredBlob blob = writer.commit();
            assertEquals(length, blob.size());
            assertArrayEquals(bytes, Files.readAllBytes(blob.path()), "the committed bytes of a blob of " + length);
        }
    }

    @Test
    void switchedToThePageCacheMidFile_theStagedBytesAreInTheFileAtOnce_andTheWholeBlobCommittedByteForByte() throws Exception {
        FileBlobStore store = directStore();
        int stage = DirectWrites.STAGE;
        Random random = new Random(2028);
        // Switched before anything, inside the first stage, on a stage edge and deep inside the file.
        int length = stage * 9 + 4097;
        for (int switchAt : new int[] {0, 777, stage * 3, stage * 5 + 12345}) {
            byte[] bytes = new byte[length];
            random.nextBytes(bytes);
            BlobWriter writer = store.newWriter(digestOf(bytes), length);
            boolean switched = false;
            for (int at = 0; at < length; ) {
                if (!switched && at >= switchAt) {
                    writer.toPageCache();
                    switched = true;
                    assertFalse(writer.direct(), "written through the page cache from " + at + " on");
                    assertEquals(at, writer.written(), "the staged bytes are in the file once switched at " + at);
                    assertEquals(at, Files.size(writer.tempFile()));
                    assertArrayEquals(java.util.Arrays.copyOf(bytes, at), Files.readAllBytes(writer.tempFile()),
                            "the file so far, switched at " + at);
                }
                int chunk = Math.min(length - at, 1 + random.nextInt(300_000));
                writer.write(ByteBuffer.wrap(bytes, at, chunk));
                at += chunk;
                if (switched) {
                    assertEquals(at, writer.written(), "a page cache write is in the file at once");
                }
            }
            StoredBlob blob = writer.commit();
            assertEquals(length, blob.size());
            assertArrayEquals(bytes, Files.readAllBytes(blob.path()), "the committed bytes, switched at " + switchAt);
        }
    }

    @Test
    void smallBlobsAndUnknownLengths_goThroughThePageCache() throws Exception {
        FileBlobStore store = directStore();
        byte[] bytes = new byte[5000];
        new Random(1).nextBytes(bytes);
        BlobWriter small = store.newWriter(digestOf(bytes), bytes.length);
        assertFalse(small.direct());
        small.write(ByteBuffer.wrap(bytes));
        assertEquals(bytes.length, small.written(), "a page cache write is in the file at once");
        small.commit();
        assertFalse(store.newWriter(digestOf(new byte[1]), -1).direct(), "a blob of unknown length");
    }

    @Test
    void whereTheProbeCannotWriteDirect_bigBlobsGoThroughThePageCache() throws Exception {
        // Linux's tmpfs takes O_DIRECT since 6.6, so a directory the probe cannot write into stands for a file system that refuses it.
        assertFalse(DirectWrites.probe(dir.resolve("no-such-directory")).on());
        assertEquals(java.util.List.of(), java.util.Arrays.asList(dir.toFile().list()), "the probe leaves nothing behind");

        FileBlobStore off = new FileBlobStore(new BlobPaths(dir), CommitDurability.EACH_COMMIT, false);
        byte[] bytes = new byte[(int) DirectWrites.FROM_BYTES + 3];
        BlobWriter writer = off.newWriter(digestOf(bytes), bytes.length);
        assertFalse(writer.direct(), "direct writes turned off");
        writer.write(ByteBuffer.wrap(bytes));
        assertEquals(bytes.length, writer.written());
        assertArrayEquals(bytes, Files.readAllBytes(writer.commit().path()));
    }
}
