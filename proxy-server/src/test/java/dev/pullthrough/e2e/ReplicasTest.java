package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import dev.pullthrough.oci.Descriptor;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.ManifestContent;
import dev.pullthrough.storage.s3.BucketFsck;
import dev.pullthrough.storage.s3.S3Bucket;
import dev.pullthrough.storage.s3.S3ProxyServer;
import dev.pullthrough.testing.Loopback;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replicas on one bucket (the real S3Proxy), each with its own empty data directory: what one fetched
 * from the upstream, the others serve from the bucket; the real registry counts what it served.
 */
class ReplicasTest {
    @TempDir
    Path temp;

    @Test
    void pulledThroughA_thenThroughBAndC_noMoreBlobOrManifestByDigestFromTheUpstream() throws Exception {
        try (S3ProxyServer s3 = S3ProxyServer.start(temp.resolve("s3proxy"));
             S3Bucket bucket = S3Bucket.open(s3.config("shared", ""));
             ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"));
             ReferenceRegistry destination = ReferenceRegistry.start(temp.resolve("destination"))) {
            bucket.createIfMissing().join();
            // All four kinds: Docker schema 2, Docker manifest list, OCI manifest, OCI index.
            TestImages images = new TestImages(upstream.url(), 31);
            List<Pushed> pushed = List.of(
                    images.pushImage("team/docker", "v1", Format.DOCKER, 2, 16 * 1024),
                    images.pushIndex("team/list", "v1", Format.DOCKER, 1, 16 * 1024),
                    images.pushImage("team/oci", "v1", Format.OCI, 2, 16 * 1024),
                    images.pushIndex("team/index", "v1", Format.OCI, 2, 16 * 1024));
            Map<String, String> shared = Map.of("PULLTHROUGH_STORAGE_S3_BUCKET", "shared",
                    "PULLTHROUGH_STORAGE_S3_ENDPOINT", s3.endpoint().toString(), "PULLTHROUGH_STORAGE_S3_PATHSTYLE", "true",
                    "PULLTHROUGH_STORAGE_S3_ACCESSKEY", S3ProxyServer.ACCESS_KEY, "PULLTHROUGH_STORAGE_S3_SECRETKEY",
                    S3ProxyServer.SECRET_KEY);

            // Three processes, each with its own empty data directory.
            try (ProxyProcess a = ProxyProcess.serve(temp.resolve("a"), upstream.url(), Loopback.freePort(), temp.resolve("a.log"), shared)) {
                for (Pushed image : pushed) {
                    Skopeo.copyAll(a.url().getAuthority() + "/" + image.repository() + ":v1",
                            destination.hostPort() + "/via-a/" + image.repository() + ":v1");
                }
                Await.until(() -> inBucket(bucket, pushed), Duration.ofSeconds(30), "A wrote what it stored to the bucket");
            }
            List<Long> before = counts(upstream, pushed);

            for (String replica : List.of("b", "c")) {
                try (ProxyProcess other = ProxyProcess.serve(temp.resolve(replica), upstream.url(), Loopback.freePort(),
                        temp.resolve(replica + ".log"), shared)) {
                    for (Pushed image : pushed) {
                        String to = "via-" + replica + "/" + image.repository();
                        Skopeo.copyAll(other.url().getAuthority() + "/" + image.repository() + ":v1", destination.hostPort() + "/" + to + ":v1");
                        assertArrayEquals(image.bytes(), RegistryHttp.manifest(destination.url(), to, "v1").body(),
                                image.repository() + " through " + replica);
                    }
                }
            }
            assertEquals(before, counts(upstream, pushed), "the upstream served no blob and no manifest by digest to B and C");

            Path config = temp.resolve("replica.yml");
            Files.writeString(config, "storage:\n" + String.join("\n", s3.yaml("shared")) + "\n");
            Processes.Result fsck = ProxyProcess.command(temp.resolve("a"), upstream.url(), temp.resolve("fsck.log"),
                    "fsck", "--config", config.toString());
            assertEquals(0, fsck.exitCode(), fsck.output());
            assertTrue(fsck.output().contains("fsck bucket shared: ") && fsck.output().contains("0 bad objects removed"),
                    fsck.output());
        }
    }

    /** Whether the bucket holds every blob and manifest of these images. */
    private static boolean inBucket(S3Bucket bucket, List<Pushed> images) {
        for (Pushed image : images) {
            List<String> keys = new ArrayList<>();
            image.blobs().forEach(blob -> keys.add(bucket.key(S3Bucket.Kind.BLOBS, blob)));
            ManifestContent.parse(image.bytes()).manifests().forEach(child -> keys.add(bucket.key(S3Bucket.Kind.MANIFESTS, child.digest())));
            keys.add(bucket.key(S3Bucket.Kind.MANIFESTS, image.digest()));
            for (String key : keys) {
                if (bucket.size(key).join().isEmpty()) {
                    return false;
                }
            }
        }
        return true;
    }

    @Test
    void redirect_theClientFetchesBlobsFromTheBucket_theReplicaServesNone() throws Exception {
        try (S3ProxyServer s3 = S3ProxyServer.start(temp.resolve("s3proxy"));
             ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"));
             ReferenceRegistry destination = ReferenceRegistry.start(temp.resolve("destination"))) {
            try (S3Bucket bucket = S3Bucket.open(s3.config("shared", ""))) {
                bucket.createIfMissing().join();
            }
            Pushed image = new TestImages(upstream.url(), 32).pushImage("team/app", "v1", Format.DOCKER, 2, 64 * 1024);
            String upstreams = "upstreams:\n  - name: docker.io\n    url: " + upstream.url() + "\n    default: true\n";
            String shared = "storage:\n" + String.join("\n", s3.yaml("shared")) + "\n";
            try (ProxyUnderTest a = ProxyUnderTest.start(temp.resolve("a"), shared + upstreams)) {
                Skopeo.copyAll(a.hostPort() + "/team/app:v1", destination.hostPort() + "/via-a/team/app:v1");
                Await.until(() -> a.pendingBucketWrites() == 0, Duration.ofSeconds(30), "A wrote what it stored to the bucket");
            }

            try (ProxyUnderTest b = ProxyUnderTest.start(temp.resolve("b"), shared + "    redirect: true\n" + upstreams)) {
                // To a directory: a registry destination that holds the layers already would skip them.
                Path copied = temp.resolve("via-b");
                Processes.runOk(180, Skopeo.BINARY, "--insecure-policy", "copy", "--retry-times", "0", "--src-tls-verify=false",
                        "docker://" + b.hostPort() + "/team/app:v1", "dir:" + copied);

                assertArrayEquals(image.bytes(), Files.readAllBytes(copied.resolve("manifest.json")));
                for (Digest blob : image.blobs()) {
                    assertEquals(blob, Digest.sha256Of(Files.readAllBytes(copied.resolve(blob.hex()))));
                }
                assertEquals(image.blobs().size(), (long) b.metrics().sum("pullthrough_requests", "route", "blob", "status", "307"));
                assertEquals(0, (long) b.metrics().sum("pullthrough_requests", "route", "blob", "status", "200"),
                        "no blob byte served by the replica");
                assertEquals(0, b.upstreamRequests("blob", "GET"));
                HttpResponse<byte[]> redirect = RegistryHttp.get(b.url(), "/v2/team/app/blobs/" + image.blobs().get(0));
                assertEquals(307, redirect.statusCode());
                assertEquals(image.blobs().get(0).toString(), redirect.headers().firstValue("Docker-Content-Digest").orElseThrow());
                HttpResponse<byte[]> fromBucket = RegistryHttp.get(URI.create(redirect.headers().firstValue("Location")
                        .orElseThrow()), "");
                assertEquals(image.blobs().get(0), Digest.sha256Of(fromBucket.body()), "the presigned URL serves the blob");
            }
        }
    }

    @Test
    void replicaKilledMidBlob_nothingInTheBucket_anotherFetchesItOnceAndRight_fsckClean() throws Exception {
        // The bucket's object is B's multipart upload, completed after B verified the blob; fsck re-hashes it.
        // Large enough that a multipart upload follows the download (parts of 16 MiB).
        byte[] blob = new byte[40 << 20];
        new Random(17).nextBytes(blob);
        Digest digest = Digest.sha256Of(blob);
        String blobPath = "/v2/team/big/blobs/" + digest;
        // Held after 28 MiB until A is killed: the kill lands mid-blob whatever the machine's speed (issue 29).
        java.util.concurrent.CountDownLatch killed = new java.util.concurrent.CountDownLatch(1);
        try (S3ProxyServer s3 = S3ProxyServer.start(temp.resolve("s3proxy"));
             S3Bucket bucket = S3Bucket.open(s3.config("shared", ""));
             FaultyUpstream slow = new FaultyUpstream().route("GET " + blobPath,
                     FaultyUpstream.held(blob, 28 << 20, killed))) {
            bucket.createIfMissing().join();
            Map<String, String> shared = Map.of("PULLTHROUGH_STORAGE_S3_BUCKET", "shared",
                    "PULLTHROUGH_STORAGE_S3_ENDPOINT", s3.endpoint().toString(), "PULLTHROUGH_STORAGE_S3_PATHSTYLE", "true",
                    "PULLTHROUGH_STORAGE_S3_ACCESSKEY", S3ProxyServer.ACCESS_KEY, "PULLTHROUGH_STORAGE_S3_SECRETKEY",
                    S3ProxyServer.SECRET_KEY);
            ProxyProcess a = ProxyProcess.serve(temp.resolve("a"), slow.url(), Loopback.freePort(), temp.resolve("a.log"), shared);
            AtomicLong received = new AtomicLong();
            Thread client = new Thread(() -> {
                try (InputStream body = HttpClient.newHttpClient().send(
                        HttpRequest.newBuilder(a.url().resolve(blobPath)).build(),
                        HttpResponse.BodyHandlers.ofInputStream()).body()) {
                    byte[] buffer = new byte[8192];
                    for (int n; (n = body.read(buffer)) > 0; ) {
                        received.addAndGet(n);
                    }
                } catch (Exception cutOff) {
                    // the replica dies under it
                }
            });
            client.start();
            // Past the first 16 MiB part: the upload has parts in the bucket when the replica dies.
            Await.until(() -> received.get() > (24 << 20), Duration.ofSeconds(60), "the client got a part of the blob");
            a.kill();
            client.join();
            killed.countDown();

            assertTrue(received.get() < blob.length, "killed in the middle: " + received.get());
            assertEquals(Optional.empty(), bucket.size(bucket.key(S3Bucket.Kind.BLOBS, digest)).join(),
                    "no object under the blob's key: the upload never completed");

            try (ProxyUnderTest b = ProxyUnderTest.start(temp.resolve("b"), "storage:\n" + String.join("\n", s3.yaml("shared"))
                    + "\nupstreams:\n  - name: docker.io\n    url: " + slow.url() + "\n    default: true\n")) {
                HttpResponse<byte[]> served = RegistryHttp.get(b.url(), blobPath);
                assertEquals(200, served.statusCode());
                assertArrayEquals(blob, served.body());
                assertEquals(2, slow.count("GET " + blobPath), "one fresh fetch by B");
                Await.until(() -> b.pendingBucketWrites() == 0, Duration.ofSeconds(30), "B wrote the blob to the bucket");
            }
            assertEquals(Optional.of((long) blob.length), bucket.size(bucket.key(S3Bucket.Kind.BLOBS, digest)).join());
            assertTrue(BucketFsck.check(bucket).clean());
        }
    }

    /** The upstream's GETs of every blob, and of every manifest by digest (platform images). */
    private static List<Long> counts(ReferenceRegistry upstream, List<Pushed> images) {
        List<Long> counts = new ArrayList<>();
        for (Pushed image : images) {
            for (Digest blob : image.blobs()) {
                counts.add(upstream.requests("GET", "/v2/" + image.repository() + "/blobs/" + blob));
            }
            for (Descriptor child : ManifestContent.parse(image.bytes()).manifests()) {
                counts.add(upstream.requests("GET", "/v2/" + image.repository() + "/manifests/" + child.digest()));
            }
            counts.add(upstream.requests("GET", "/v2/" + image.repository() + "/manifests/" + image.digest()));
        }
        return counts;
    }
}
