package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The accept matrix: for every image kind and client profile, the proxy's answer (status,
 * Content-Type, Docker-Content-Digest, body) equals the reference registry's own, by tag and by
 * digest, on a cold cache, on a warm one, and with profiles interleaved.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ManifestNegotiationTest {
    static final String DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json";
    static final String DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
    static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
    static final String SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws";

    /** Client profiles: the Accept headers each sends (several entries = several headers). */
    static final Map<String, List<String>> PROFILES = new LinkedHashMap<>();

    static {
        PROFILES.put("no-accept", List.of());
        PROFILES.put("docker-v2-only", List.of(DOCKER_V2));
        PROFILES.put("oci-manifest-only", List.of(OCI_MANIFEST));
        PROFILES.put("all-modern", List.of(String.join(", ", OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_V2)));
        PROFILES.put("lists-only", List.of(DOCKER_LIST + ", " + OCI_INDEX));
        PROFILES.put("q-values", List.of(OCI_INDEX + ";q=0.9, " + DOCKER_V2 + "; q=0.5, */*;q=0.1"));
        PROFILES.put("several-headers", List.of(DOCKER_V2, DOCKER_LIST, OCI_MANIFEST));
        PROFILES.put("wildcard", List.of("*/*"));
    }

    @TempDir
    static Path temp;

    private ReferenceRegistry upstream;
    private final Map<String, Pushed> images = new LinkedHashMap<>();

    @BeforeAll
    void start() {
        upstream = ReferenceRegistry.start(temp.resolve("upstream"));
        TestImages builder = new TestImages(upstream.url(), 5);
        images.put("docker", builder.pushImage("neg/docker", "v1", Format.DOCKER, 1, 4096));
        images.put("oci", builder.pushImage("neg/oci", "v1", Format.OCI, 1, 4096));
        images.put("docker-list", builder.pushIndex("neg/docker-list", "v1", Format.DOCKER, 1, 4096));
        images.put("oci-index", builder.pushIndex("neg/oci-index", "v1", Format.OCI, 1, 4096));
    }

    @AfterAll
    void stop() {
        upstream.close();
    }

    private HttpResponse<byte[]> get(URI base, Pushed image, String reference, List<String> accept) {
        List<String> headers = new ArrayList<>();
        for (String value : accept) {
            headers.add("Accept");
            headers.add(value);
        }
        return RegistryHttp.get(base, "/v2/" + image.repository() + "/manifests/" + reference, headers.toArray(new String[0]));
    }

    /** Asks the proxy and the upstream the same question and requires the same answer. */
    private void assertSameAnswer(ProxyUnderTest proxy, String kind, String profile, String reference, String phase) {
        Pushed image = images.get(kind);
        List<String> accept = PROFILES.get(profile);
        HttpResponse<byte[]> viaProxy = get(proxy.url(), image, reference, accept);
        HttpResponse<byte[]> direct = get(upstream.url(), image, reference, accept);
        String where = phase + " " + kind + " by " + (reference.startsWith("sha256:") ? "digest" : "tag") + " as " + profile;
        assertEquals(direct.statusCode(), viaProxy.statusCode(), where + ": status");
        Optional<String> type = direct.headers().firstValue("Content-Type");
        if (direct.statusCode() == 200) {
            assertEquals(type, viaProxy.headers().firstValue("Content-Type"), where + ": Content-Type");
            assertEquals(direct.headers().firstValue("Docker-Content-Digest"),
                    viaProxy.headers().firstValue("Docker-Content-Digest"), where + ": Docker-Content-Digest");
            if (type.orElse("").equals(SCHEMA1)) {
                // Re-signed on every request: only the payload before the signatures is stable.
                assertEquals(payload(direct.body()), payload(viaProxy.body()), where + ": schema 1 payload");
            } else {
                assertArrayEquals(direct.body(), viaProxy.body(), where + ": body");
            }
        } else {
            assertEquals(new String(direct.body(), StandardCharsets.UTF_8), new String(viaProxy.body(), StandardCharsets.UTF_8),
                    where + ": error body");
        }
    }

    private static String payload(byte[] body) {
        String text = new String(body, StandardCharsets.UTF_8);
        int signatures = text.indexOf("\"signatures\"");
        return signatures < 0 ? text : text.substring(0, signatures);
    }

    private void everyKindAndProfile(ProxyUnderTest proxy, String phase) {
        for (String kind : images.keySet()) {
            for (String profile : PROFILES.keySet()) {
                assertSameAnswer(proxy, kind, profile, "v1", phase);
                assertSameAnswer(proxy, kind, profile, images.get(kind).digest().toString(), phase);
            }
        }
    }

    // ---------------------------------------------------------------- the matrix

    @Test
    void matrix_coldThenWarm_sameAnswersAsUpstream() {
        try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("cold-warm"), upstream.url())) {
            everyKindAndProfile(proxy, "cold");
            long manifestGets = proxy.upstreamRequests("manifest", "GET");
            everyKindAndProfile(proxy, "warm");
            // Warm answers come from cache except where the upstream re-signs (schema 1) or refuses:
            // those are passed through on every request, as the upstream alone can make them.
            long passedThrough = proxy.upstreamRequests("manifest", "GET") - manifestGets;
            assertTrue(passedThrough <= countUncacheable(proxy), "warm manifest GETs upstream: " + passedThrough);
        }
    }

    /** How many matrix cells the upstream answers with something not cacheable (schema 1 or an error). */
    private long countUncacheable(ProxyUnderTest proxy) {
        long n = 0;
        for (String kind : images.keySet()) {
            for (String profile : PROFILES.keySet()) {
                for (String reference : List.of("v1", images.get(kind).digest().toString())) {
                    HttpResponse<byte[]> direct = get(upstream.url(), images.get(kind), reference, PROFILES.get(profile));
                    if (direct.statusCode() != 200 || direct.headers().firstValue("Content-Type").orElse("").equals(SCHEMA1)) {
                        n++;
                    }
                }
            }
        }
        return n;
    }

    /** Prints what the reference registry answers in each cell (for the record; asserts nothing). */
    private void printMatrix() {
        StringBuilder table = new StringBuilder("reference registry answers (status type):\n");
        for (String kind : images.keySet()) {
            for (String profile : PROFILES.keySet()) {
                for (String reference : List.of("v1", images.get(kind).digest().toString())) {
                    HttpResponse<byte[]> direct = get(upstream.url(), images.get(kind), reference, PROFILES.get(profile));
                    table.append(String.format("  %-12s %-18s %-7s %d %s%n", kind, profile, reference.equals("v1") ? "tag" : "digest",
                            direct.statusCode(), direct.statusCode() == 200 ? direct.headers().firstValue("Content-Type").orElse("")
                                    : new String(direct.body(), StandardCharsets.UTF_8).trim()));
                }
            }
        }
        System.out.print(table);
    }

    @Test
    void matrix_interleavedProfiles_noCrosstalk() {
        printMatrix();
        try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("interleaved"), upstream.url())) {
            List<String> profiles = new ArrayList<>(PROFILES.keySet());
            for (String kind : images.keySet()) {
                for (String a : profiles) {
                    for (String b : profiles) {
                        if (!a.equals(b)) {
                            assertSameAnswer(proxy, kind, a, "v1", "interleaved");
                            assertSameAnswer(proxy, kind, b, "v1", "interleaved");
                            assertSameAnswer(proxy, kind, a, images.get(kind).digest().toString(), "interleaved");
                            assertSameAnswer(proxy, kind, b, images.get(kind).digest().toString(), "interleaved");
                        }
                    }
                }
            }
        }
    }

    /**
     * The tag's own manifest is cached once for every client that lists its type: on a cold cache, a
     * broad client (every modern type) first and a narrow one after, and the reverse, must each get
     * the upstream's own answer, whichever of them filled the cache.
     */
    @Test
    void matrix_broadThenNarrowAndReverse_sameAnswersAsUpstream() {
        int run = 0;
        for (String narrow : PROFILES.keySet()) {
            if (narrow.equals("all-modern")) {
                continue;
            }
            for (boolean broadFirst : new boolean[] {true, false}) {
                String first = broadFirst ? "all-modern" : narrow;
                String second = broadFirst ? narrow : "all-modern";
                try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("order-" + run++), upstream.url())) {
                    for (String kind : images.keySet()) {
                        String phase = first + " then " + second;
                        assertSameAnswer(proxy, kind, first, "v1", phase);
                        assertSameAnswer(proxy, kind, second, "v1", phase);
                        assertSameAnswer(proxy, kind, first, "v1", phase + ", first again");
                        assertSameAnswer(proxy, kind, second, "v1", phase + ", second again");
                    }
                }
            }
        }
    }

    /** A client listing no list type gets the list's amd64 child, as from the upstream, and that answer is cached for it. */
    @Test
    void listTag_dockerV2OnlyClientAfterBroadOne_getsAmd64ChildCachedForItsAcceptSet() {
        try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("v2-only"), upstream.url())) {
            Pushed list = images.get("docker-list");
            assertSameAnswer(proxy, "docker-list", "all-modern", "v1", "broad");
            assertSameAnswer(proxy, "docker-list", "docker-v2-only", "v1", "v2-only");
            HttpResponse<byte[]> child = get(proxy.url(), list, "v1", PROFILES.get("docker-v2-only"));
            assertEquals(DOCKER_V2, child.headers().firstValue("Content-Type").orElseThrow());
            long upstreamGets = proxy.upstreamRequests("manifest", "GET");
            long upstreamHeads = proxy.upstreamRequests("manifest", "HEAD");
            for (String profile : List.of("docker-v2-only", "all-modern", "docker-v2-only")) {
                assertSameAnswer(proxy, "docker-list", profile, "v1", "warm " + profile);
            }
            assertEquals(upstreamGets, proxy.upstreamRequests("manifest", "GET"), "both answers come from the cache");
            assertEquals(upstreamHeads, proxy.upstreamRequests("manifest", "HEAD"));
        }
    }

    @Test
    void head_sameHeadersAsGetFromCache() {
        try (ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("head"), upstream.url())) {
            for (Pushed image : images.values()) {
                String accept = PROFILES.get("all-modern").get(0);
                HttpResponse<byte[]> get = RegistryHttp.get(proxy.url(), "/v2/" + image.repository() + "/manifests/v1", "Accept", accept);
                long upstreamBefore = proxy.upstreamRequests("manifest", "GET") + proxy.upstreamRequests("manifest", "HEAD");
                HttpResponse<byte[]> head = RegistryHttp.head(proxy.url(), "/v2/" + image.repository() + "/manifests/v1", "Accept", accept);
                assertEquals(upstreamBefore, proxy.upstreamRequests("manifest", "GET") + proxy.upstreamRequests("manifest", "HEAD"),
                        "HEAD served from cache");
                for (String header : List.of("Content-Type", "Content-Length", "Docker-Content-Digest")) {
                    assertEquals(get.headers().firstValue(header), head.headers().firstValue(header), header);
                }
                assertEquals(image.digest().toString(), head.headers().firstValue("Docker-Content-Digest").orElseThrow());
                assertEquals(0, head.body().length);
            }
        }
    }
}
