package dev.pullthrough.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.cache.CachedMetadataStore;
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
import dev.pullthrough.upstream.ManifestBody;
import dev.pullthrough.upstream.ManifestHead;
import dev.pullthrough.upstream.Refusal;
import dev.pullthrough.upstream.TestUpstream;
import dev.pullthrough.upstream.UpstreamResult;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import dev.pullthrough.testing.MovableClock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An upstream refusing the proxy's credentials (expired, rotated: issue 27) is served like an
 * outage: a cached tag past its TTL, within maxStale, with a Warning; the refusal itself when
 * nothing cached fits. In-process, with a counting fake upstream and a clock the test moves.
 */
class CredentialRefusalStaleTest {
    private static final byte[] MANIFEST = ("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\","
            + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:" + "a".repeat(64)
            + "\",\"size\":2},\"layers\":[]}").getBytes(StandardCharsets.UTF_8);
    private static final Digest DIGEST = Digest.sha256Of(MANIFEST);
    private static final String TAGS = "{\"name\":\"team/app\",\"tags\":[\"v1\"]}";
    private static final List<String> ACCEPT = List.of(MediaTypes.OCI_MANIFEST, MediaTypes.OCI_INDEX);

    @TempDir
    Path temp;

    private final MovableClock clock = new MovableClock();
    private final RefusingUpstream upstream = new RefusingUpstream();
    private RocksMetadataStore rocks;
    private ManifestService manifests;
    private Target target;

    @BeforeEach
    void setUp() throws Exception {
        BlobPaths paths = new BlobPaths(temp);
        rocks = new RocksMetadataStore(paths.metadataDir());
        CachedMetadataStore metadata = new CachedMetadataStore(rocks, 1 << 20, 1 << 20);
        CacheJanitor janitor = new CacheJanitor(metadata, new FileBlobStore(paths), 1L << 30, d -> false, e -> { }, clock, Runnable::run);
        manifests = new ManifestService(metadata, metadata, new ManifestAdmission(metadata, janitor), janitor, new Metrics(),
                clock, false, Runnable::run, SharedTags.NONE);
        RepositoryName name = RepositoryName.parse("team/app");
        target = new Target(upstream, name, name, null, "default");
    }

    @AfterEach
    void tearDown() {
        rocks.close();
    }

    private ProxyResponse get(String tag) {
        return manifests.get(target, Reference.parse(tag), ACCEPT).join();
    }

    @Test
    void get_credentialsRefusedPastTtl_cachedTagServedWithWarning() {
        assertInstanceOf(ProxyResponse.Manifest.class, get("v1"));
        upstream.refusing = new Refusal.CredentialsRefused(401);
        clock.advance(Duration.ofMinutes(6));
        for (int i = 0; i < 3; i++) {
            ProxyResponse.Manifest stale = assertInstanceOf(ProxyResponse.Manifest.class, get("v1"));
            assertEquals(DIGEST, stale.digest());
            String warning = stale.headers().get("Warning");
            assertTrue(warning.startsWith("299 - \"upstream fake refused the proxy's credentials; serving a cached tag"), warning);
        }
        assertEquals(1, upstream.heads.get(), "one HEAD learnt of the refusal; the burst after it is served from cache");
    }

    @Test
    void get_credentialsRefusedPastMaxStale_theRefusalNamingTheUpstream() {
        get("v1");
        upstream.refusing = new Refusal.CredentialsRefused(401);
        clock.advance(Duration.ofDays(8));
        ProxyResponse.Error refused = assertInstanceOf(ProxyResponse.Error.class, get("v1"));
        assertEquals(ErrorCode.UNAUTHORIZED, refused.error().code());
        assertTrue(refused.error().message().contains("upstream fake refused the proxy's credentials (401)"),
                refused.error().message());
    }

    @Test
    void get_credentialsRefusedNothingCached_401NamingTheUpstream() {
        upstream.refusing = new Refusal.CredentialsRefused(401);
        ProxyResponse.Error refused = assertInstanceOf(ProxyResponse.Error.class, get("v2"));
        assertEquals(ErrorCode.UNAUTHORIZED, refused.error().code());
        assertEquals(401, refused.error().code().status());
        assertTrue(refused.error().message().contains("upstream fake refused the proxy's credentials"), refused.error().message());
    }

    @Test
    void get_realmDenies403_cachedTagServedToo() {
        get("v1");
        upstream.refusing = new Refusal.CredentialsRefused(403);
        clock.advance(Duration.ofMinutes(6));
        assertTrue(assertInstanceOf(ProxyResponse.Manifest.class, get("v1")).headers().get("Warning").startsWith("299 - "));
    }

    @Test
    void tagsList_credentialsRefusedPastTtl_cachedListingServedWithAWarningThatSaysSo() {
        ListingService listings = new ListingService(false, clock);
        var route = new dev.pullthrough.registry.api.Route.Tags(target.repository(), Optional.empty(), Optional.empty());
        assertEquals(200, assertInstanceOf(ProxyResponse.Json.class, listings.tags(target, route).join()).status());
        upstream.refusing = new Refusal.CredentialsRefused(401);
        clock.advance(Duration.ofMinutes(6));
        ProxyResponse.Json stale = assertInstanceOf(ProxyResponse.Json.class, listings.tags(target, route).join());
        assertEquals(TAGS, new String(stale.body(), StandardCharsets.UTF_8));
        assertEquals("299 - \"upstream fake refused the proxy's credentials; serving a cached listing\"", stale.headers().get("Warning"));
    }

    /** One manifest under any tag; refuses with {@link #refusing} once set; counts HEADs. */
    private static final class RefusingUpstream extends TestUpstream {
        final AtomicInteger heads = new AtomicInteger();
        volatile Refusal refusing;

        RefusingUpstream() {
            super("tagTtl: 5m", "maxStale: 7d");
        }

        @Override
        public CompletableFuture<UpstreamResult<ManifestBody>> manifest(RepositoryName name, String reference, List<String> accept) {
            if (refusing != null) {
                return CompletableFuture.completedFuture(UpstreamResult.refused(refusing));
            }
            return CompletableFuture.completedFuture(UpstreamResult.ok(
                    new ManifestBody(MediaTypes.OCI_MANIFEST, Optional.of(DIGEST.toString()), MANIFEST)));
        }

        @Override
        public CompletableFuture<UpstreamResult<dev.pullthrough.upstream.Listing>> listing(RepositoryName name, String pathAndQuery,
                                                                                         String kind) {
            if (refusing != null) {
                return CompletableFuture.completedFuture(UpstreamResult.refused(refusing));
            }
            return CompletableFuture.completedFuture(UpstreamResult.ok(new dev.pullthrough.upstream.Listing("application/json",
                    TAGS.getBytes(StandardCharsets.UTF_8), Optional.empty(), Optional.empty())));
        }

        @Override
        public CompletableFuture<UpstreamResult<ManifestHead>> headManifest(RepositoryName name, String reference,
                                                                           List<String> accept) {
            heads.incrementAndGet();
            if (refusing != null) {
                return CompletableFuture.completedFuture(UpstreamResult.refused(refusing));
            }
            return CompletableFuture.completedFuture(UpstreamResult.ok(new ManifestHead(Optional.of(DIGEST.toString()))));
        }
    }
}
