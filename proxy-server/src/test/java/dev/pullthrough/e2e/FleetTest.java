package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.ManifestContent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * A mixed fleet behind one proxy: a Docker daemon (registry-mirrors), containerd ({@code ctr}, hosts.toml),
 * podman, skopeo and curl each send their own {@code Accept} set for the same tag. The upstream (the real
 * registry, its access log counting) must see one GET by tag per tag, and, once it is down, every client
 * whose Accept lists the cached manifest's type must still pull.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FleetTest {
    /** Short, so that revalidation happens between clients and the stale warning can be seen. */
    private static final Duration TAG_TTL = Duration.ofSeconds(2);

    enum Client { DOCKERD, CONTAINERD, PODMAN, SKOPEO, CURL }

    private Path temp;
    private ReferenceRegistry upstream;
    /** The proxies the clients pull through: one here, each client pointed at the next of several in a cluster. */
    private List<ProxyUnderTest> proxies;
    private DockerDaemon docker;
    private Containerd containerd;
    private Podman podman;
    private Path hostsDir;
    private TestImages images;

    @BeforeAll
    void start() throws Exception {
        temp = Files.createTempDirectory(Path.of("/tmp"), "ptfl");
        upstream = ReferenceRegistry.start(temp.resolve("upstream"));
        images = new TestImages(upstream.url(), 111);
        proxies = startProxies(temp, "upstreams:\n  - name: docker.io\n    url: " + upstream.url()
                + "\n    default: true\n    tagTtl: " + TAG_TTL.toMillis() + "ms\n    maxStale: 1h\n");
        docker = DockerDaemon.withMirror(temp.resolve("d"), proxyFor(Client.DOCKERD).url().toString());
        hostsDir = temp.resolve("certs.d");
        Files.createDirectories(hostsDir.resolve("docker.io"));
        Files.writeString(hostsDir.resolve("docker.io").resolve("hosts.toml"), String.join("\n",
                "server = \"https://registry-1.docker.io\"",
                "",
                "[host.\"" + proxyFor(Client.CONTAINERD).url() + "\"]",
                "  capabilities = [\"pull\", \"resolve\"]",
                ""));
        containerd = Containerd.start(temp.resolve("c"));
        podman = Podman.in(temp.resolve("p"));
    }

    @AfterAll
    void stop() {
        List<AutoCloseable> all = new ArrayList<>(List.of(podman, containerd, docker));
        all.addAll(proxies);
        all.add(upstream);
        all.addAll(stopAfterProxies());
        Processes.stopAll(temp, all);
    }

    // ---------------------------------------------------------------- one GET by tag for the fleet

    @Test
    @Order(1)
    void fleet_dockerdFirst_oneUpstreamGetPerTag() {
        List<Client> order = List.of(Client.DOCKERD, Client.CONTAINERD, Client.PODMAN, Client.SKOPEO, Client.CURL);
        everyClientPulls(images.pushIndex("fleet/oci-a", "v1", Format.OCI, 1, 8 * 1024), order);
        everyClientPulls(images.pushIndex("fleet/list-a", "v1", Format.DOCKER, 1, 8 * 1024), order);
    }

    @Test
    @Order(2)
    void fleet_curlFirst_oneUpstreamGetPerTag() {
        List<Client> order = List.of(Client.CURL, Client.SKOPEO, Client.PODMAN, Client.CONTAINERD, Client.DOCKERD);
        everyClientPulls(images.pushIndex("fleet/oci-b", "v1", Format.OCI, 1, 8 * 1024), order);
        everyClientPulls(images.pushIndex("fleet/list-b", "v1", Format.DOCKER, 1, 8 * 1024), order);
    }

    private void everyClientPulls(Pushed image, List<Client> order) {
        double savedBefore = sum("pullthrough_upstream_pulls_saved", "upstream", "docker.io");
        for (Client client : order) {
            assertEquals(image.digest().toString(), pull(client, image, true), client + " ends with the upstream's digest");
        }
        String byTag = "/v2/" + image.repository() + "/manifests/v1";
        assertEquals(1, upstream.requests("GET", byTag), "GETs by tag for " + image.repository() + " in order " + order);
        List<Digest> children = children(image);
        for (Digest child : children) {
            long gets = upstream.requests("GET", "/v2/" + image.repository() + "/manifests/" + child);
            assertTrue(gets <= 1, child + " fetched " + gets + " times");
        }
        assertEquals(1, upstream.requests("GET", "/v2/" + image.repository() + "/manifests/" + children.get(0)),
                "the amd64 child, which every client pulls, fetched once");
        assertTrue(sum("pullthrough_upstream_pulls_saved", "upstream", "docker.io") - savedBefore >= order.size() - 1,
                "every client after the first is a pull the upstream did not count");
    }

    // ---------------------------------------------------------------- upstream down

    @Test
    @Order(3)
    void outage_onlyDockerdPulledBefore_everyClientStillPulls() {
        Pushed image = images.pushIndex("fleet/outage", "v1", Format.OCI, 1, 8 * 1024);
        assertEquals(image.digest().toString(), pull(Client.DOCKERD, image, false));
        upstream.stop();
        double failedBefore = sum("pullthrough_upstream_requests", "status", "0");

        // Past the TTL first (curl sees the stale Warning), so that every client below takes the outage
        // path; pulled at once they could be served a fresh tag and never reach it (issue 29).
        Curl.Response stale = staleAnswer(image);
        assertTrue(stale.header("Warning").startsWith("299 - "), "a Warning says the tag is stale: " + stale.header("Warning"));
        assertEquals(image.digest(), Digest.sha256Of(stale.body()));

        Digest amd64 = children(image).get(0);
        assertEquals(image.digest().toString(), pull(Client.CONTAINERD, image, false));
        assertEquals(image.digest().toString(), pull(Client.PODMAN, image, false));
        assertEquals(amd64.toString(), pull(Client.SKOPEO, image, false), "skopeo copies the amd64 image");
        assertEquals(image.digest().toString(), pull(Client.CURL, image, false));
        assertTrue(staleAnswer(image).header("Warning").startsWith("299 - "), "still stale: nothing refreshed the tag");
        // A stopped registry answers nothing: what can be counted is that the proxy tried it and failed.
        assertTrue(sum("pullthrough_upstream_requests", "status", "0") > failedBefore,
                "the proxy asked the stopped upstream, then served its cache");
    }

    /** The tag through curl, once its answer carries a Warning (past the TTL), or the last answer at the deadline. */
    private Curl.Response staleAnswer(Pushed image) {
        long deadline = System.nanoTime() + TAG_TTL.multipliedBy(30).toNanos();
        Curl.Response answer;
        do {
            answer = Curl.get(manifestUrl(image), RegistryHttp.ALL_MANIFEST_TYPES);
            assertEquals(200, answer.status());
            assertEquals(image.digest().toString(), answer.header("Docker-Content-Digest"));
        } while (answer.header("Warning").isEmpty() && System.nanoTime() < deadline);
        return answer;
    }

    // ---------------------------------------------------------------- the clients

    /** Pulls the image's tag with one client; returns the digest that client says it pulled. */
    private String pull(Client client, Pushed image, boolean allPlatforms) {
        String repository = image.repository();
        switch (client) {
            case DOCKERD: {
                docker.docker(300, "pull", repository + ":v1").requireSuccess(List.of("docker", "pull", repository + ":v1"));
                String repoDigest = docker.docker(30, "image", "inspect", "--format", "{{index .RepoDigests 0}}", repository + ":v1")
                        .requireSuccess(List.of("docker", "image", "inspect")).output().trim();
                return repoDigest.substring(repoDigest.indexOf('@') + 1);
            }
            case CONTAINERD: {
                String reference = "docker.io/" + repository + ":v1";
                containerd.ctr(300, "images", "pull", "--hosts-dir", hostsDir.toString(), "--snapshotter", "native", reference)
                        .requireSuccess(List.of("ctr", "images", "pull", reference));
                String listing = containerd.ctr(30, "images", "ls").requireSuccess(List.of("ctr", "images", "ls")).output();
                String line = listing.lines().filter(l -> l.startsWith(reference + " ")).findFirst()
                        .orElseThrow(() -> new AssertionError(reference + " not listed:\n" + listing));
                return line.split("\\s+")[2];
            }
            case PODMAN: {
                String inspected = podman.pull(proxyFor(Client.PODMAN).hostPort() + "/" + repository + ":v1");
                return inspected.split(" ")[0];
            }
            case SKOPEO: {
                Path dir = temp.resolve("skopeo-" + repository.replace('/', '-') + "-" + System.nanoTime());
                List<String> command = new ArrayList<>(List.of(Skopeo.BINARY, "--insecure-policy", "--override-arch", "amd64",
                        "--override-os", "linux", "copy", "--retry-times", "0", "--src-tls-verify=false"));
                if (allPlatforms) {
                    command.add("--all");
                }
                command.addAll(List.of("docker://" + proxyFor(Client.SKOPEO).hostPort() + "/" + repository + ":v1", "dir:" + dir));
                Processes.require(Skopeo.BINARY, "skopeo");
                Processes.run(command, 180, Processes.FENCED).requireSuccess(command);
                try {
                    return Digest.sha256Of(Files.readAllBytes(dir.resolve("manifest.json"))).toString();
                } catch (java.io.IOException e) {
                    throw new AssertionError(e);
                }
            }
            default: {
                Curl.Response response = Curl.get(manifestUrl(image), RegistryHttp.ALL_MANIFEST_TYPES);
                assertEquals(200, response.status(), new String(response.body()));
                assertEquals(response.header("Docker-Content-Digest"), Digest.sha256Of(response.body()).toString(),
                        "the body is the digest's");
                return response.header("Docker-Content-Digest");
            }
        }
    }

    private String manifestUrl(Pushed image) {
        return proxyFor(Client.CURL).url() + "/v2/" + image.repository() + "/manifests/v1";
    }

    /** The proxies, from the upstreams' YAML; one here. */
    List<ProxyUnderTest> startProxies(Path temp, String upstreamsYaml) throws Exception {
        return List.of(ProxyUnderTest.start(temp.resolve("proxy"), upstreamsYaml));
    }

    /** What else to stop once the proxies are stopped. */
    List<AutoCloseable> stopAfterProxies() {
        return List.of();
    }

    /** The proxy {@code client} pulls through: with several, each client in turn is pointed at the next one. */
    private ProxyUnderTest proxyFor(Client client) {
        return proxies.get(client.ordinal() % proxies.size());
    }

    /** A metric summed over every proxy. */
    private double sum(String name, String... tags) {
        return proxies.stream().mapToDouble(p -> p.metrics().sum(name, tags)).sum();
    }

    /** The index's children: amd64 first, as TestImages pushes them. */
    private static List<Digest> children(Pushed image) {
        return ManifestContent.parse(image.bytes()).manifests().stream().map(d -> d.digest()).toList();
    }
}
