package dev.pullthrough.storage.s3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bucket client against the real S3Proxy: keys, whole writes, reads, misses and presigned URLs. */
class S3BucketTest {
    @TempDir
    static Path dir;

    private static S3ProxyServer server;
    private static S3Bucket bucket;

    @BeforeAll
    static void start() throws Exception {
        server = S3ProxyServer.start(dir.resolve("s3proxy"));
        bucket = S3Bucket.open(server.config("pullthrough", "cache/"));
        bucket.createIfMissing().join();
    }

    @AfterAll
    static void stop() throws Exception {
        bucket.close();
        server.close();
    }

    @Test
    void key_contentAddressedUnderThePrefix() {
        Digest digest = Digest.sha256Of("x".getBytes(StandardCharsets.UTF_8));
        assertEquals("cache/blobs/sha256/" + digest.hex(), bucket.key(S3Bucket.Kind.BLOBS, digest));
        assertEquals("cache/manifests/sha256/" + digest.hex(), bucket.key(S3Bucket.Kind.MANIFESTS, digest));
    }

    @Test
    void fileWrittenWhole_thenSizeAndBytes_missingIsEmpty() throws Exception {
        byte[] content = new byte[3 * 1024 * 1024 + 17];
        new java.util.Random(3).nextBytes(content);
        Path file = dir.resolve("blob");
        Files.write(file, content);
        String key = bucket.key(S3Bucket.Kind.BLOBS, Digest.sha256Of(content));

        bucket.putFile(key, file, "application/octet-stream").join();

        assertEquals(Optional.of((long) content.length), bucket.size(key).join());
        assertArrayEquals(content, bucket.bytes(key).join().orElseThrow());
        assertEquals(Optional.empty(), bucket.size("cache/blobs/sha256/none").join());
        assertEquals(Optional.empty(), bucket.bytes("cache/blobs/sha256/none").join());
    }

    @Test
    void presignedGet_readableWithoutCredentials() throws Exception {
        byte[] manifest = "{\"schemaVersion\":2}".getBytes(StandardCharsets.UTF_8);
        String key = bucket.key(S3Bucket.Kind.MANIFESTS, Digest.sha256Of(manifest));
        bucket.putBytes(key, manifest, "application/vnd.oci.image.manifest.v1+json").join();

        HttpResponse<byte[]> fetched = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(bucket.presignedGet(key, Duration.ofMinutes(5))).build(), HttpResponse.BodyHandlers.ofByteArray());

        assertEquals(200, fetched.statusCode());
        assertArrayEquals(manifest, fetched.body());
    }

    @Test
    void fsck_removesTheObjectWhoseBytesDoNotMatchItsKey_keepsTheRest_thenClean() throws Exception {
        try (S3Bucket checked = S3Bucket.open(server.config("pullthrough", "fsck/"))) {
            byte[] good = "good blob".getBytes(StandardCharsets.UTF_8);
            byte[] manifest = "{\"schemaVersion\":2}".getBytes(StandardCharsets.UTF_8);
            Digest claimed = Digest.sha256Of("what the key says".getBytes(StandardCharsets.UTF_8));
            String goodKey = checked.key(S3Bucket.Kind.BLOBS, Digest.sha256Of(good));
            String badKey = checked.key(S3Bucket.Kind.BLOBS, claimed);
            String manifestKey = checked.key(S3Bucket.Kind.MANIFESTS, Digest.sha256Of(manifest));
            checked.putBytes(goodKey, good, "application/octet-stream").join();
            checked.putBytes(badKey, "other bytes".getBytes(StandardCharsets.UTF_8), "application/octet-stream").join();
            checked.putBytes(manifestKey, manifest, "application/vnd.oci.image.manifest.v1+json").join();

            BucketFsck.Report first = BucketFsck.check(checked);

            assertEquals(3, first.objectsChecked());
            assertEquals(1, first.bad().size(), first.bad().toString());
            assertTrue(first.bad().get(0).startsWith(badKey), first.bad().toString());
            assertEquals(Optional.empty(), checked.size(badKey).join());
            assertEquals(Optional.of((long) good.length), checked.size(goodKey).join());
            assertTrue(BucketFsck.check(checked).clean());
        }
    }
}
