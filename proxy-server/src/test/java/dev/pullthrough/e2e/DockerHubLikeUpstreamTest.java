package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.s3.S3ProxyServer;
import dev.pullthrough.testing.Loopback;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * An upstream built like Docker Hub (issue 27): the reference registry on S3 storage (S3Proxy, a
 * real S3 API) redirecting every blob GET to a presigned URL of another origin, behind a token
 * realm on another port with {@code service=registry.docker.io}. dockerd (as a registry mirror),
 * containerd and skopeo pull a single image and an index through the proxy; then through Debian's
 * tinyproxy with Basic auth named by {@code upstreams[].proxy} (and with a wrong password); then
 * with a credential helper whose password expired. A recording front of ours stands before
 * S3Proxy: the presigned URL carries its signature in its query, so an {@code Authorization}
 * header there could only have come from the proxy.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DockerHubLikeUpstreamTest {
    private static final String BUCKET = "hub";
    private static final String EGRESS_USER = "egress";
    private static final String EGRESS_PASSWORD = "hub-egress-pw";
    private static final String WRONG_PASSWORD = "hub-wrong-pw-27";

    private Path temp;
    private S3ProxyServer s3;
    private RecordingFront front;
    private TokenServer tokens;
    private ReferenceRegistry hub;
    private Tinyproxy egress;
    private ProxyUnderTest direct;
    private ProxyUnderTest viaEgress;
    private DockerDaemon docker;
    private Containerd containerd;
    private Path hostsDir;
    private Pushed single;
    private Pushed index;
    private Pushed egressOnly;

    @BeforeAll
    void start() throws Exception {
        temp = Files.createTempDirectory(Path.of("/tmp"), "pthub");
        s3 = S3ProxyServer.start(temp.resolve("s3"));
        // S3Proxy's filesystem backend: a bucket is a directory of its basedir.
        Path bucket = Files.createDirectories(temp.resolve("s3").resolve("data").resolve(BUCKET));
        front = new RecordingFront(s3.endpoint());
        pushTestImages(bucket);
        tokens = new TokenServer(300, 0);
        hub = ReferenceRegistry.startWithStorage(temp.resolve("hub"), s3Storage(),
                List.of("auth:", "  silly:", "    realm: " + tokens.realm(), "    service: registry.docker.io"));
        egress = Tinyproxy.start(temp.resolve("tinyproxy"), EGRESS_USER, EGRESS_PASSWORD,
                hub.url().getPort(), tokens.realm().getPort(), front.port());
        direct = ProxyUnderTest.start(temp.resolve("direct"), hub.url());
        viaEgress = ProxyUnderTest.start(temp.resolve("via-egress"), "upstreams:\n"
                + "  - name: docker.io\n    url: " + hub.url() + "\n    default: true\n"
                + "    proxy: " + egress.url(EGRESS_USER, EGRESS_PASSWORD) + "\n"
                + "  - name: wrongpw\n    url: " + hub.url() + "\n"
                + "    proxy: " + egress.url(EGRESS_USER, WRONG_PASSWORD) + "\n");
        docker = DockerDaemon.withMirror(temp.resolve("d"), direct.url().toString());
        hostsDir = hostsDirVia(direct, "certs.d");
        containerd = Containerd.start(temp.resolve("c"));
    }

    /**
     * The s3 driver of distribution 2.8 cannot take uploads into S3Proxy (finishing one panics
     * with a nil pointer in the registry), so the images are pushed through a filesystem registry whose root is the bucket's
     * directory: the same keys the s3 driver reads ({@code docker/registry/v2/...}).
     */
    private void pushTestImages(Path bucket) {
        try (ReferenceRegistry pusher = ReferenceRegistry.startWithStorage(temp.resolve("pusher"),
                List.of("  filesystem:", "    rootdirectory: " + bucket), List.of())) {
            TestImages images = new TestImages(pusher.url(), 2727);
            single = images.pushImage("library/walkthrough", "v1", Format.DOCKER, 2, 96 * 1024);
            index = images.pushIndex("library/multi", "v2", Format.OCI, 1, 64 * 1024);
            egressOnly = images.pushImage("library/egress", "v1", Format.OCI, 2, 32 * 1024);
        }
    }

    @AfterAll
    void stop() {
        Processes.stopAll(temp, java.util.Arrays.asList(containerd, docker, viaEgress, direct, egress, hub, tokens, front, s3));
    }

    // ---------------------------------------------------------------- direct: dockerd, containerd, skopeo

    @Test
    void pulls_dockerdContainerdSkopeo_digestsRight_tokenForDockerHub_noAuthorizationAtS3_secondPullsNoBlobGet() {
        int mark = front.requests().size(); // the other tests pull through a proxy of their own: count from here
        List<Digest> amd64 = index.blobs().subList(0, 2); // config and one layer of the amd64 child
        List<Digest> arm64 = index.blobs().subList(2, 4);

        // ------------------------------------------------ dockerd as a mirror: each blob of its platform once
        dockerPull("walkthrough:v1", "walkthrough@" + single.digest());
        dockerPull("multi:v2", "multi@" + index.digest());
        for (Digest blob : single.blobs()) {
            assertEquals(1, presignedGets(mark, blob), "one presigned GET at S3 for " + blob);
        }
        for (Digest blob : amd64) {
            assertEquals(1, presignedGets(mark, blob), "the amd64 child's " + blob + " once");
        }
        long blobGetsAfterDocker = hubBlobGets();
        assertTrue(blobGetsAfterDocker >= single.blobs().size() + amd64.size(), "the blobs came from the hub: " + blobGetsAfterDocker);

        // ------------------------------------------------ containerd, the same platform: served from cache
        ctrPull(hostsDir, "docker.io/library/walkthrough:v1", single);
        ctrPull(hostsDir, "docker.io/library/multi:v2", index);
        assertEquals(blobGetsAfterDocker, hubBlobGets(), "a second pull (containerd) costs the hub no blob GET");

        // ------------------------------------------------ skopeo, every platform: only arm64's blobs are new
        skopeoCopy(direct.hostPort() + "/library/multi:v2", "copied-multi", index);
        skopeoCopy(direct.hostPort() + "/library/walkthrough:v1", "copied-walkthrough", single);
        for (Digest blob : arm64) {
            assertEquals(1, presignedGets(mark, blob), "the arm64 child's " + blob + " once");
        }
        long blobGetsAfterSkopeo = hubBlobGets();
        skopeoCopy(direct.hostPort() + "/library/multi:v2", "again-multi", index);
        assertEquals(blobGetsAfterSkopeo, hubBlobGets(), "a second skopeo pull costs the hub no blob GET");
        for (Digest blob : index.blobs()) {
            assertEquals(1, presignedGets(mark, blob), "still one presigned GET for " + blob);
        }

        // ------------------------------------------------ the token realm: Docker Hub's service, pull scopes
        assertFalse(tokens.requests().isEmpty(), "the proxy followed the Bearer challenge to the realm");
        for (TokenServer.Request request : tokens.requests()) {
            assertEquals("registry.docker.io", request.query().get("service"), request.query().toString());
            String scope = request.query().get("scope");
            assertTrue(scope.equals("repository:library/walkthrough:pull") || scope.equals("repository:library/multi:pull")
                    || scope.equals("repository:library/egress:pull"), "a pull scope of the image's repository: " + scope);
        }
        assertNoAuthorizationAtS3();
    }

    // ---------------------------------------------------------------- through tinyproxy (upstreams[].proxy)

    @Test
    void pulls_throughTinyproxy_registryRealmAndRedirectTargetInItsLog_digestsRight() throws Exception {
        int mark = front.requests().size();
        skopeoCopy(viaEgress.hostPort() + "/library/multi:v2", "egress-multi", index);
        // containerd first (its hosts.toml for docker.io names the proxy through tinyproxy), then dockerd and
        // skopeo from the cache it filled; dockerd names the proxy itself: 127.0.0.0/8 is plain HTTP to it by default.
        ctrPull(hostsDirVia(viaEgress, "certs-egress.d"), "docker.io/library/egress:v1", egressOnly);
        String reference = viaEgress.hostPort() + "/library/egress:v1";
        dockerPull(reference, viaEgress.hostPort() + "/library/egress@" + egressOnly.digest());
        skopeoCopy(reference, "egress-egress", egressOnly);
        for (Pushed image : List.of(index, egressOnly)) {
            for (Digest blob : image.blobs()) {
                assertEquals(1, presignedGets(mark, blob), "one presigned GET at S3 for " + blob + ", the second pull none");
            }
        }

        assertTrue(egress.connectsTo(hub.url().getPort()) >= 1, "the registry through tinyproxy: " + egress.connects());
        assertTrue(egress.connectsTo(tokens.realm().getPort()) >= 1, "the token realm through tinyproxy: " + egress.connects());
        assertTrue(egress.connectsTo(front.port()) >= 1, "the redirect target through tinyproxy: " + egress.connects());
        assertEquals(List.of(), egress.connects().stream().filter(t -> !t.equals("127.0.0.1:" + hub.url().getPort())
                && !t.equals("127.0.0.1:" + tokens.realm().getPort()) && !t.equals("127.0.0.1:" + front.port())).toList(),
                "nothing else went through it");
        assertNoAuthorizationAtS3();
    }

    @Test
    void pull_wrongEgressPassword_skopeoAndDockerdGet502NamingTheProxyAndItsRefusal() throws Exception {
        String expected = "egress proxy 127.0.0.1:" + egress.port() + " (upstreams[1].proxy) refused CONNECT to 127.0.0.1:"
                + hub.url().getPort() + ": 40"; // tinyproxy answers 401 or 407, by version
        List<String> inspect = List.of(Skopeo.BINARY, "--insecure-policy", "inspect", "--retry-times", "0", "--tls-verify=false",
                "--raw", "docker://" + viaEgress.hostPort() + "/wrongpw/library/walkthrough:v1");
        Processes.Result skopeo = Processes.run(inspect, 120);
        assertNotEquals(0, skopeo.exitCode(), skopeo.output());
        // skopeo (containers/image) reads the error body of 4xx answers only: of a 502 it prints the status line.
        assertTrue(skopeo.output().contains("received unexpected HTTP status: 502 Bad Gateway: "), skopeo.output());
        assertTrue(skopeo.output().contains(expected), skopeo.output());
        assertFalse(skopeo.output().contains(WRONG_PASSWORD), skopeo.output());
        // The same request by hand: the body skopeo did not print names the proxy and its refusal.
        HttpResponse<byte[]> same = RegistryHttp.manifest(viaEgress.url(), "wrongpw/library/walkthrough", "v1");
        String body = new String(same.body(), StandardCharsets.UTF_8);
        assertEquals(502, same.statusCode(), body);
        assertTrue(body.startsWith("{\"errors\":[{\"code\":\"UPSTREAM_UNAVAILABLE\""), body);
        assertTrue(body.contains(expected), body);
        assertFalse(body.contains(WRONG_PASSWORD), body);

        Processes.Result pulled = docker.docker(120, "pull", viaEgress.hostPort() + "/wrongpw/library/walkthrough:v1");
        assertNotEquals(0, pulled.exitCode(), pulled.output());
        // dockerd, like skopeo, prints only the status line of a 5xx answer.
        assertTrue(pulled.output().contains("received unexpected HTTP status: 502 Bad Gateway: "), pulled.output());
        assertTrue(pulled.output().contains(expected), pulled.output());
        assertFalse(pulled.output().contains(WRONG_PASSWORD), pulled.output());
    }

    // ---------------------------------------------------------------- expired credentials: cached tags stay pullable

    /**
     * A second registry on the same bucket whose token realm wants the credentials a Docker credential
     * helper gives; the proxy as its own process with the helper on its PATH. Once the helper's
     * password is wrong (expired), the realm refuses it: the cached image is still pulled by dockerd
     * and skopeo, and curl sees the {@code Warning: 299} the proxy adds.
     */
    @Test
    void expiredHelperPassword_cachedImage_dockerdAndSkopeoStillPull_curlSeesWarning299() throws Exception {
        Path bin = Files.createDirectories(temp.resolve("bin"));
        Path secret = temp.resolve("helper-secret");
        Files.writeString(secret, "hub-secret-one");
        Path helper = bin.resolve("docker-credential-hubtest");
        Files.writeString(helper, "#!/bin/sh\necho run >> " + bin.resolve("hubtest.runs") + "\nread server\n"
                + "printf '{\"ServerURL\":\"%s\",\"Username\":\"hubuser\",\"Secret\":\"%s\"}' \"$server\" \"$(cat " + secret + ")\"\n");
        Files.setPosixFilePermissions(helper, PosixFilePermissions.fromString("rwxr-xr-x"));
        String right = "Basic " + Base64.getEncoder().encodeToString("hubuser:hub-secret-one".getBytes(StandardCharsets.UTF_8));
        // Tokens live 1 s: the proxy soon asks the realm again, with what the helper says then.
        try (TokenServer realm = new TokenServer(1, 0);
             ReferenceRegistry hubWithLogin = ReferenceRegistry.startWithStorage(temp.resolve("hub-login"), s3Storage(),
                     List.of("auth:", "  silly:", "    realm: " + realm.realm(), "    service: registry.docker.io"));
             ProxyProcess proxy = ProxyProcess.serveLikeReadme(temp.resolve("login-data"), "upstreams:\n"
                     + "  - name: docker.io\n    url: " + hubWithLogin.url() + "\n    default: true\n    tagTtl: 1ms\n"
                     + "    credentialHelper: hubtest\n", Loopback.freePort(), temp.resolve("login.log"),
                     Map.of("PATH", bin + ":" + System.getenv("PATH")))) {
            realm.require(right);
            String hostPort = proxy.url().getHost() + ":" + proxy.url().getPort();
            String reference = hostPort + "/library/walkthrough:v1";
            skopeoCopy(reference, "login-fresh", single); // the manifest and every blob into the cache
            assertTrue(realm.requests().stream().anyMatch(r -> right.equals(r.authorization())), "the helper's password reached the realm");

            // ------------------------------------------------ the realm moves on; the helper's answer is now expired
            realm.require("Basic " + Base64.getEncoder().encodeToString("hubuser:hub-secret-two".getBytes(StandardCharsets.UTF_8)));
            Files.writeString(secret, "hub-secret-expired");
            Await.until(() -> RegistryHttp.manifest(proxy.url(), "library/walkthrough", "v1").headers().firstValue("Warning").isPresent(),
                    Duration.ofSeconds(30), "the realm refused the expired password and the proxy said so");
            assertTrue(realm.requests().stream().anyMatch(r -> r.authorization() != null && !right.equals(r.authorization())),
                    "the realm was asked with the helper's new answer");

            assertTrue(Files.readAllLines(bin.resolve("hubtest.runs")).size() >= 2, "the helper was asked again after the refusal");

            Curl.Response stale = Curl.get(proxy.url() + "/v2/library/walkthrough/manifests/v1", RegistryHttp.ALL_MANIFEST_TYPES);
            assertEquals(200, stale.status());
            assertEquals(single.digest(), Digest.sha256Of(stale.body()));
            String warning = stale.header("Warning");
            assertTrue(warning.startsWith("299 - \"upstream docker.io refused the proxy's credentials"), warning);
            assertFalse(warning.contains("hub-secret"), warning);

            // dockerd pulls the cached image afresh (removed first: its layers come from the proxy again)
            docker.docker(60, "rmi", "-f", reference);
            dockerPull(reference, hostPort + "/library/walkthrough@" + single.digest());
            skopeoCopy(reference, "login-stale", single);
            assertTrue(proxy.isAlive());
            // With credentials configured (the helper's Basic for the realm), still none at the redirect target.
            assertNoAuthorizationAtS3();
        }
        assertFalse(Files.readString(temp.resolve("login.log")).contains("hub-secret"), "no password in the proxy's log");
    }

    // ---------------------------------------------------------------- helpers

    /** The hub's storage: the bucket through the recording front; blob GETs redirect to presigned URLs (the s3 driver's default). */
    private List<String> s3Storage() {
        return List.of(
                "  s3:",
                "    accesskey: " + S3ProxyServer.ACCESS_KEY,
                "    secretkey: " + S3ProxyServer.SECRET_KEY,
                "    region: us-east-1",
                "    regionendpoint: " + front.url(),
                "    bucket: " + BUCKET,
                "    secure: false",
                "    v4auth: true",
                "    rootdirectory: /");
    }

    private void dockerPull(String reference, String expectedRepoDigest) {
        docker.docker(300, "pull", reference).requireSuccess(List.of("docker", "pull", reference));
        String repoDigest = docker.docker(30, "image", "inspect", "--format", "{{index .RepoDigests 0}}", reference)
                .requireSuccess(List.of("docker", "image", "inspect", reference)).output().trim();
        assertEquals(expectedRepoDigest, repoDigest);
    }

    /** A containerd {@code hosts.toml} directory sending docker.io pulls to {@code proxy}. */
    private Path hostsDirVia(ProxyUnderTest proxy, String name) throws IOException {
        Path dir = temp.resolve(name);
        Files.createDirectories(dir.resolve("docker.io"));
        Files.writeString(dir.resolve("docker.io").resolve("hosts.toml"), String.join("\n",
                "server = \"https://registry-1.docker.io\"", "", "[host.\"" + proxy.url() + "\"]",
                "  capabilities = [\"pull\", \"resolve\"]", ""));
        return dir;
    }

    private void ctrPull(Path hostsDir, String reference, Pushed image) {
        String pulled = containerd.ctr(300, "images", "pull", "--hosts-dir", hostsDir.toString(), "--snapshotter", "native",
                reference).requireSuccess(List.of("ctr", "images", "pull", reference)).output();
        assertTrue(pulled.contains("unpacking linux/amd64 " + image.digest()), pulled);
    }

    /**
     * {@code skopeo copy --all} into a new {@code dir:} (a registry destination would let skopeo mount
     * blobs it copied before instead of reading them): the manifest's and every blob's digest right.
     */
    private void skopeoCopy(String source, String name, Pushed image) {
        Path dir = temp.resolve("skopeo").resolve(name);
        try {
            Files.createDirectories(dir.getParent());
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        Processes.runOk(180, Skopeo.BINARY, "--insecure-policy", "copy", "--all", "--retry-times", "0",
                "--src-tls-verify=false", "docker://" + source, "dir:" + dir);
        try {
            assertEquals(image.digest(), Digest.sha256Of(Files.readAllBytes(dir.resolve("manifest.json"))));
            for (Digest blob : image.blobs()) {
                assertEquals(blob, Digest.sha256Of(Files.readAllBytes(dir.resolve(blob.hex()))), "skopeo's copy of " + blob);
            }
        } catch (IOException e) {
            throw new AssertionError("skopeo's copy in " + dir + " is incomplete: " + e, e);
        }
    }

    /** The presigned GETs of this blob's object at S3 since the front's {@code mark}-th request, whoever sent them. */
    private long presignedGets(int mark, Digest blob) {
        String object = "/" + BUCKET + "/docker/registry/v2/blobs/sha256/" + blob.hex().substring(0, 2) + "/" + blob.hex() + "/data?";
        List<RecordingFront.Request> requests = front.requests();
        return requests.subList(mark, requests.size()).stream().filter(r -> r.method().equals("GET") && r.presigned() && r.target().startsWith(object)).count();
    }

    /** Blob GETs of the test images in the hub's access log (each answered 401 or a redirect), once it caught up. */
    private long hubBlobGets() {
        long gets = 0;
        for (Pushed image : List.of(single, index, egressOnly)) {
            for (Digest blob : image.blobs()) {
                gets += hub.requests("GET", "/v2/" + image.repository() + "/blobs/" + blob);
            }
        }
        return gets;
    }

    /** No request with a presigned URL carried an {@code Authorization} header; the registry's own S3 calls do. */
    private void assertNoAuthorizationAtS3() {
        List<RecordingFront.Request> presigned = front.requests().stream().filter(RecordingFront.Request::presigned).toList();
        assertFalse(presigned.isEmpty(), "blob GETs were redirected to presigned URLs");
        for (RecordingFront.Request request : presigned) {
            assertFalse(request.headers().containsKey("authorization"), "an Authorization header reached S3: " + request);
        }
        assertTrue(front.requests().stream().anyMatch(r -> !r.presigned() && r.headers().containsKey("authorization")),
                "the registry's own S3 calls are signed in the header: the front sees headers");
    }
}
