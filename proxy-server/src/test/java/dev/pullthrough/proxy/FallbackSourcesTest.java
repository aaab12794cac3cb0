package dev.pullthrough.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.cache.CachedMetadataStore;
import dev.pullthrough.config.ConfigLoader;
import dev.pullthrough.config.UpstreamConfig;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.MediaTypes;
import dev.pullthrough.oci.Reference;
import dev.pullthrough.oci.RepositoryName;
import dev.pullthrough.registry.api.ErrorCode;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.maintenance.CacheJanitor;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import dev.pullthrough.testing.MovableClock;
import dev.pullthrough.upstream.BlobBody;
import dev.pullthrough.upstream.BodySink;
import dev.pullthrough.upstream.BodySource;
import dev.pullthrough.upstream.FallbackUpstream;
import dev.pullthrough.upstream.ManifestBody;
import dev.pullthrough.upstream.ManifestHead;
import dev.pullthrough.upstream.Refusal;
import dev.pullthrough.upstream.TestUpstream;
import dev.pullthrough.upstream.Upstream;
import dev.pullthrough.upstream.UpstreamResult;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code upstreams[].fallback} (issue 27), in-process with counting fake upstreams and a clock the
 * test moves: content by digest from the sources in order when the upstream fails (429, 5xx,
 * unreachable, silent), never for its 404 or 401/403; wrong bytes refused and that source passed
 * over; tags the upstream's own while it answers, a source's only when it fails and nothing is
 * cached, with a Warning naming the source, and not past the tag TTL.
 */
class FallbackSourcesTest {
    private static final RepositoryName NAME = RepositoryName.parse("library/app");
    private static final byte[] BLOB = "the layer's bytes".getBytes(StandardCharsets.UTF_8);
    private static final Digest BLOB_DIGEST = Digest.sha256Of(BLOB);
    private static final byte[] MANIFEST = manifest("a");
    private static final Digest MANIFEST_DIGEST = Digest.sha256Of(MANIFEST);
    private static final byte[] OTHER_MANIFEST = manifest("b");
    /** The upstreams configured beside each fake, so that its fallback names are known ones. */
    private static final String OTHERS = "  - name: docker.io\n    url: http://127.0.0.1:9\n"
            + "  - name: mirror.example\n    url: http://127.0.0.1:9\n  - name: sister.example\n    url: http://127.0.0.1:9\n";
    private static final List<String> ACCEPT = List.of(MediaTypes.OCI_MANIFEST, MediaTypes.OCI_INDEX);

    @TempDir
    Path temp;

    private final MovableClock clock = new MovableClock();
    private final Metrics metrics = new Metrics();
    /** Every request any fake received, in order: "name METHOD reference". */
    private final List<String> asked = new CopyOnWriteArrayList<>();
    private final Fake hub = new Fake("docker.io", "    fallback: [mirror.example, sister.example]\n");
    private final Fake mirror = new Fake("mirror.example");
    private final Fake sister = new Fake("sister.example");
    private Upstream upstream;
    private RocksMetadataStore rocks;
    private ManifestService manifests;
    private Target target;

    private static byte[] manifest(String config) {
        return ("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"config\":{\"mediaType\":"
                + "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:" + config.repeat(64)
                + "\",\"size\":2},\"layers\":[]}").getBytes(StandardCharsets.UTF_8);
    }

    @BeforeEach
    void setUp() throws Exception {
        upstream = FallbackUpstream.around(hub, List.of(hub, mirror, sister), metrics);
        BlobPaths paths = new BlobPaths(temp);
        rocks = new RocksMetadataStore(paths.metadataDir());
        CachedMetadataStore metadata = new CachedMetadataStore(rocks, 1 << 20, 1 << 20);
        CacheJanitor janitor = new CacheJanitor(metadata, new FileBlobStore(paths), 1L << 30, d -> false, e -> { }, clock, Runnable::run);
        manifests = new ManifestService(metadata, metadata, new ManifestAdmission(metadata, janitor), janitor, metrics,
                clock, false, Runnable::run, SharedTags.NONE);
        target = new Target(upstream, NAME, NAME, null, "default");
    }

    @AfterEach
    void tearDown() {
        rocks.close();
    }

    // ---------------------------------------------------------------- content by digest

    @Test
    void blob_upstreamRateLimited_sourcesAskedInOrderForTheSameRepository() throws IOException {
        hub.refusing = new Refusal.RateLimited(Optional.of("60"));
        mirror.refusing = new Refusal.NotFound();
        sister.blobs.put(BLOB_DIGEST, BLOB);

        BlobBody body = ok(upstream.blob(NAME, BLOB_DIGEST));

        try (InputStream in = body.asInputStream()) {
            assertArrayEquals(BLOB, in.readAllBytes());
        }
        assertEquals(List.of("docker.io GET library/app " + BLOB_DIGEST, "mirror.example GET library/app " + BLOB_DIGEST,
                "sister.example GET library/app " + BLOB_DIGEST), asked);
        assertEquals(BLOB.length, metrics.sum("pullthrough_fallback_blob_bytes", "upstream", "docker.io", "source", "sister.example"));
        assertEquals(0, metrics.sum("pullthrough_fallback_blob_bytes", "upstream", "docker.io", "source", "mirror.example"));
    }

    @Test
    void blob_upstreamNotFound_isTheAnswerNoSourceAsked() {
        hub.refusing = new Refusal.NotFound();
        mirror.blobs.put(BLOB_DIGEST, BLOB);

        assertInstanceOf(Refusal.NotFound.class, refusal(upstream.blob(NAME, BLOB_DIGEST)));
        assertEquals(List.of("docker.io GET library/app " + BLOB_DIGEST), asked);
    }

    @Test
    void blob_upstreamDeniesOrWantsCredentials_isTheAnswerNoSourceAsked() {
        mirror.blobs.put(BLOB_DIGEST, BLOB);
        for (Refusal answer : List.of(new Refusal.Unauthorized(), new Refusal.Denied(), new Refusal.InsufficientScope())) {
            hub.refusing = answer;
            assertEquals(answer, refusal(upstream.blob(NAME, BLOB_DIGEST)));
        }
        assertTrue(asked.stream().allMatch(line -> line.startsWith("docker.io ")), asked.toString());
    }

    @Test
    void blob_upstreamDownOrFailing_askedOfTheSource() throws IOException {
        mirror.blobs.put(BLOB_DIGEST, BLOB);
        for (Refusal failure : List.of(new Refusal.ServerError(503), new Refusal.Unavailable("connection refused"),
                new Refusal.TimedOut("no answer within 10s"), new Refusal.CredentialsRefused(401))) {
            hub.refusing = failure;
            try (InputStream in = ok(upstream.blob(NAME, BLOB_DIGEST)).asInputStream()) {
                assertArrayEquals(BLOB, in.readAllBytes(), failure.toString());
            }
        }
        assertEquals(4, asked.stream().filter(line -> line.startsWith("mirror.example GET")).count());
    }

    @Test
    void blob_noSourceHasIt_theUpstreamsOwnRefusal() {
        hub.refusing = new Refusal.RateLimited(Optional.of("60"));
        mirror.refusing = new Refusal.ServerError(502);
        sister.refusing = new Refusal.NotFound();

        assertEquals(new Refusal.RateLimited(Optional.of("60")), refusal(upstream.blob(NAME, BLOB_DIGEST)));
        assertEquals(3, asked.size());
    }

    @Test
    void blob_sourceSendsWrongBytes_cutAtItsEndThenPassedOverForTheNext() throws IOException {
        hub.refusing = new Refusal.RateLimited(Optional.empty());
        mirror.blobs.put(BLOB_DIGEST, "not the layer's bytes".getBytes(StandardCharsets.UTF_8));
        sister.blobs.put(BLOB_DIGEST, BLOB);

        try (InputStream in = ok(upstream.blob(NAME, BLOB_DIGEST)).asInputStream()) {
            IOException cut = assertThrows(IOException.class, in::readAllBytes);
            assertTrue(cut.getMessage().contains("fallback mirror.example sent 21 bytes that do not hash to " + BLOB_DIGEST),
                    cut.getMessage());
        }
        asked.clear();
        try (InputStream in = ok(upstream.blob(NAME, BLOB_DIGEST)).asInputStream()) {
            assertArrayEquals(BLOB, in.readAllBytes());
        }
        assertEquals(List.of("docker.io GET library/app " + BLOB_DIGEST, "sister.example GET library/app " + BLOB_DIGEST), asked,
                "the client's retry goes past the source that sent wrong bytes");
        assertEquals(0, metrics.sum("pullthrough_fallback_blob_bytes", "source", "mirror.example"));
        assertEquals(BLOB.length, metrics.sum("pullthrough_fallback_blob_bytes", "source", "sister.example"));
    }

    @Test
    void manifestByDigest_sourceSendsWrongBytes_nextSourcesVerifiedAnswer() {
        hub.refusing = new Refusal.ServerError(500);
        mirror.manifests.put(MANIFEST_DIGEST.toString(), OTHER_MANIFEST);
        sister.manifests.put(MANIFEST_DIGEST.toString(), MANIFEST);

        ProxyResponse.Manifest served = assertInstanceOf(ProxyResponse.Manifest.class,
                manifests.get(target, Reference.parse(MANIFEST_DIGEST.toString()), ACCEPT).join());

        assertEquals(MANIFEST_DIGEST, served.digest());
        assertArrayEquals(MANIFEST, served.bytes());
        assertEquals(1, metrics.sum("pullthrough_fallback_manifests", "source", "sister.example", "by", "digest"));
        assertEquals(0, metrics.sum("pullthrough_fallback_manifests", "source", "mirror.example", "by", "digest"));
    }

    @Test
    void metrics_everyConfiguredPair_existsAtZeroFromTheStart() {
        String scrape = metrics.scrape();
        for (String source : List.of("mirror.example", "sister.example")) {
            assertTrue(scrape.contains("pullthrough_fallback_blob_bytes_total{source=\"" + source + "\",upstream=\"docker.io\"} 0.0"),
                    scrape);
            assertTrue(scrape.contains("pullthrough_fallback_manifests_total{by=\"tag\",source=\"" + source
                    + "\",upstream=\"docker.io\"} 0.0"), scrape);
        }
    }

    // ---------------------------------------------------------------- tags

    @Test
    void tag_upstreamAnswers_sourcesNeverAsked() {
        hub.manifests.put("v1", MANIFEST);
        mirror.manifests.put("v1", OTHER_MANIFEST);

        ProxyResponse.Manifest served = getTag("v1");
        clock.advance(Duration.ofMinutes(6));
        getTag("v1");

        assertEquals(MANIFEST_DIGEST, served.digest());
        assertTrue(asked.stream().allMatch(line -> line.startsWith("docker.io ")), asked.toString());
    }

    @Test
    void tag_upstreamFailsWithCachedTag_staleServedSourcesNotAsked() {
        hub.manifests.put("v1", MANIFEST);
        mirror.manifests.put("v1", OTHER_MANIFEST);
        getTag("v1");
        hub.refusing = new Refusal.RateLimited(Optional.empty());
        clock.advance(Duration.ofMinutes(6));

        ProxyResponse.Manifest stale = getTag("v1");

        assertEquals(MANIFEST_DIGEST, stale.digest());
        assertTrue(stale.headers().get("Warning").contains("serving a cached tag"), stale.headers().toString());
        assertTrue(asked.stream().noneMatch(line -> line.startsWith("mirror.example")), asked.toString());
    }

    @Test
    void tag_upstreamFailsNothingCached_sourcesAnswerWithWarningNamingIt() {
        hub.refusing = new Refusal.RateLimited(Optional.of("60"));
        mirror.refusing = new Refusal.Unavailable("connection refused");
        sister.manifests.put("v1", MANIFEST);

        ProxyResponse.Manifest borrowed = getTag("v1");

        assertEquals(MANIFEST_DIGEST, borrowed.digest());
        assertArrayEquals(MANIFEST, borrowed.bytes());
        assertEquals("299 - \"upstream docker.io is rate-limiting the proxy; serving the tag as fallback sister.example resolves it\"",
                borrowed.headers().get("Warning"));
        assertEquals(List.of("docker.io GET library/app v1", "mirror.example GET library/app v1", "sister.example GET library/app v1"),
                asked);
        assertEquals(1, metrics.sum("pullthrough_fallback_manifests", "source", "sister.example", "by", "tag"));
    }

    @Test
    void tag_borrowed_servedWithinTtlNotPastIt() {
        hub.refusing = new Refusal.ServerError(503);
        sister.manifests.put("v1", MANIFEST);
        getTag("v1");
        sister.refusing = new Refusal.ServerError(503);

        clock.advance(Duration.ofMinutes(4));
        assertEquals(MANIFEST_DIGEST, getTag("v1").digest(), "within the TTL: kept");
        clock.advance(Duration.ofMinutes(2));
        ProxyResponse.Error past = assertInstanceOf(ProxyResponse.Error.class, manifests.get(target, Reference.parse("v1"), ACCEPT).join());

        assertEquals(ErrorCode.UPSTREAM_UNAVAILABLE, past.error().code());
        assertEquals(2, asked.stream().filter(line -> line.startsWith("sister.example")).count(), asked.toString());
    }

    @Test
    void tag_upstreamAnswersAgain_itsOwnWordServedNotTheBorrowed() {
        hub.refusing = new Refusal.ServerError(503);
        mirror.manifests.put("v1", OTHER_MANIFEST);
        getTag("v1");
        hub.refusing = null;
        hub.manifests.put("v1", MANIFEST);
        clock.advance(Duration.ofSeconds(10));

        ProxyResponse.Manifest own = getTag("v1");

        assertEquals(MANIFEST_DIGEST, own.digest());
        assertTrue(own.headers().isEmpty(), own.headers().toString());
    }

    private ProxyResponse.Manifest getTag(String tag) {
        return assertInstanceOf(ProxyResponse.Manifest.class, manifests.get(target, Reference.parse(tag), ACCEPT).join());
    }

    private static <T> T ok(CompletableFuture<UpstreamResult<T>> answer) {
        return assertInstanceOf(UpstreamResult.Ok.class, answer.join()) instanceof UpstreamResult.Ok<?> ok ? (T) ok.value() : null;
    }

    private static Refusal refusal(CompletableFuture<? extends UpstreamResult<?>> answer) {
        return assertInstanceOf(UpstreamResult.Refused.class, answer.join()).refusal();
    }

    /** A registry holding {@link #blobs} and {@link #manifests} (by tag or digest), refusing with {@link #refusing} once set. */
    private final class Fake extends TestUpstream {
        final Map<Digest, byte[]> blobs = new HashMap<>();
        final Map<String, byte[]> manifests = new HashMap<>();
        final UpstreamConfig config;
        volatile Refusal refusing;

        Fake(String name) {
            this(name, "");
        }

        /** {@code settings}: more YAML lines of this upstream; the others are configured beside it. */
        Fake(String name, String settings) {
            config = ConfigLoader.fromYaml("upstreams:\n  - name: " + name + "\n    url: http://127.0.0.1:9\n    default: true\n"
                    + "    tagTtl: 5m\n    maxStale: 7d\n" + settings + OTHERS.replace("  - name: " + name + "\n", "  - name: x" + name + "\n"),
                    Map.of()).upstreams().get(0);
        }

        @Override
        public UpstreamConfig config() {
            return config;
        }

        private <T> Optional<CompletableFuture<UpstreamResult<T>>> refused(String method, String reference) {
            asked.add(config.name() + " " + method + " " + NAME + " " + reference);
            return Optional.ofNullable(refusing).map(r -> CompletableFuture.completedFuture(UpstreamResult.refused(r)));
        }

        @Override
        public CompletableFuture<UpstreamResult<BlobBody>> blob(RepositoryName name, Digest digest) {
            assertEquals(NAME, name);
            return this.<BlobBody>refused("GET", digest.toString()).orElseGet(() -> CompletableFuture.completedFuture(
                    blobs.containsKey(digest) ? UpstreamResult.ok(body(blobs.get(digest))) : UpstreamResult.refused(new Refusal.NotFound())));
        }

        @Override
        public CompletableFuture<UpstreamResult<ManifestBody>> manifest(RepositoryName name, String reference, List<String> accept) {
            assertEquals(NAME, name);
            byte[] bytes = manifests.get(reference);
            return this.<ManifestBody>refused("GET", reference).orElseGet(() -> CompletableFuture.completedFuture(bytes == null
                    ? UpstreamResult.refused(new Refusal.NotFound())
                    : UpstreamResult.ok(new ManifestBody(MediaTypes.OCI_MANIFEST, Optional.of(Digest.sha256Of(bytes).toString()), bytes))));
        }

        @Override
        public CompletableFuture<UpstreamResult<ManifestHead>> headManifest(RepositoryName name, String reference,
                                                                           List<String> accept) {
            byte[] bytes = manifests.get(reference);
            return this.<ManifestHead>refused("HEAD", reference).orElseGet(() -> CompletableFuture.completedFuture(bytes == null
                    ? UpstreamResult.refused(new Refusal.NotFound())
                    : UpstreamResult.ok(new ManifestHead(Optional.of(Digest.sha256Of(bytes).toString())))));
        }
    }

    /** A body that sends {@code bytes} in one chunk, then ends. */
    private static BlobBody body(byte[] bytes) {
        return new BlobBody(bytes.length, new BodySource() {
            @Override
            public void stream(BodySink sink) {
                sink.onBytes(ByteBuffer.wrap(bytes), () -> { });
                sink.onEnd();
            }

            @Override
            public void cancel(String why) {
            }
        });
    }
}
