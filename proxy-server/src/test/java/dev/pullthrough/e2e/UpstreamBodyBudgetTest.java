package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.config.ConfigLoader;
import dev.pullthrough.config.UpstreamConfig;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.RepositoryName;
import dev.pullthrough.upstream.BodyBudget;
import dev.pullthrough.upstream.Listing;
import dev.pullthrough.upstream.ManifestBody;
import dev.pullthrough.upstream.Refusal;
import dev.pullthrough.upstream.UpstreamClient;
import dev.pullthrough.upstream.UpstreamResult;
import dev.pullthrough.upstream.auth.TokenCache;
import dev.pullthrough.upstream.http.ClientLoops;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 26, in process: an upstream's manifest and listing bodies take their share of the memory
 * budget before they are read, hold it while in use, give it back when done or failed, and wait
 * (then are refused as busy) while the budget is taken.
 */
class UpstreamBodyBudgetTest {
    private static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    private static final RepositoryName REPO = RepositoryName.parse("test/app");
    private static final long MIB = 1L << 20;

    private final FaultyUpstream upstream = new FaultyUpstream();
    private final ClientLoops loops = new ClientLoops();
    private final BodyBudget budget = new BodyBudget(6 * MIB);
    private UpstreamClient client;

    @BeforeEach
    void start() throws Exception {
        UpstreamConfig config = ConfigLoader.fromYaml("upstreams:\n  - name: faulty\n    url: " + upstream.url()
                + "\n    manifestTimeout: 1s\n", Map.of()).defaultUpstream();
        client = new UpstreamClient(config, UpstreamClient.newHttpClient(config, loops), new TokenCache(), new Metrics(), budget);
    }

    @AfterEach
    void stop() {
        loops.close();
        upstream.close();
    }

    // ---------------------------------------------------------------- held while in use, released when done

    @Test
    void manifest_read_holdsTwiceItsSizeUntilClosed() {
        byte[] manifest = manifestOf((int) MIB);
        upstream.route("GET /v2/test/app/manifests/v1", FaultyUpstream.fixed(200, OCI_MANIFEST, manifest, Map.of()));

        ManifestBody body = ok(client.manifest(REPO, "v1", List.of(OCI_MANIFEST)).join());

        assertArrayEquals(manifest, body.bytes());
        assertEquals(2 * manifest.length, budget.used(), "the body and the copy RocksDB makes of it");
        body.close();
        assertEquals(0, budget.used());
    }

    @Test
    void listing_read_holdsItsSizeUntilClosed() {
        byte[] tags = ("{\"name\":\"test/app\",\"tags\":[\"" + "t".repeat((int) MIB) + "\"]}").getBytes();
        upstream.route("GET /v2/test/app/tags/list", FaultyUpstream.fixed(200, "application/json", tags, Map.of()));

        UpstreamResult<Listing> answer = client.listing(REPO, "tags/list", "tags").join();

        Listing listing = ((UpstreamResult.Ok<Listing>) answer).value();
        assertArrayEquals(tags, listing.body());
        assertEquals(tags.length, budget.used());
        listing.close();
        assertEquals(0, budget.used());
    }

    @Test
    void manifest_bodyCutShort_releasesItsShare() throws Exception {
        byte[] manifest = manifestOf((int) MIB);
        upstream.route("GET /v2/test/app/manifests/v1", FaultyUpstream.trickle(manifest, 64 * 1024, 0, manifest.length / 2));

        UpstreamResult<ManifestBody> answer = client.manifest(REPO, "v1", List.of(OCI_MANIFEST)).join();

        assertInstanceOf(UpstreamResult.Refused.class, answer);
        Await.until(() -> budget.used() == 0, Duration.ofSeconds(10), "the share of a failed body is given back");
    }

    // ---------------------------------------------------------------- past the budget

    @Test
    void manifest_budgetTaken_waitsWithoutReading_thenServedOnceReleased() throws Exception {
        byte[] manifest = manifestOf((int) MIB);
        upstream.route("GET /v2/test/app/manifests/v1", FaultyUpstream.fixed(200, OCI_MANIFEST, manifest, Map.of()));
        BodyBudget.Permit other = budget.reserve(5 * MIB, Duration.ofSeconds(1)).join();

        CompletableFuture<UpstreamResult<ManifestBody>> waiting = client.manifest(REPO, "v1", List.of(OCI_MANIFEST));
        Await.until(() -> budget.waiting() == 1, Duration.ofSeconds(10), "the request waits for room");
        assertFalse(waiting.isDone());
        other.close();

        ManifestBody body = ok(waiting.get(10, TimeUnit.SECONDS));
        assertArrayEquals(manifest, body.bytes());
        body.close();
        assertEquals(0, budget.used());
    }

    @Test
    void manifest_budgetTakenPastTheManifestTimeout_refusedAsBusy_nothingHeld() throws Exception {
        upstream.route("GET /v2/test/app/manifests/v1", FaultyUpstream.fixed(200, OCI_MANIFEST, manifestOf((int) MIB), Map.of()));
        BodyBudget.Permit other = budget.reserve(5 * MIB, Duration.ofSeconds(1)).join();

        UpstreamResult<ManifestBody> answer = client.manifest(REPO, "v1", List.of(OCI_MANIFEST)).get(20, TimeUnit.SECONDS);

        Refusal refusal = ((UpstreamResult.Refused<ManifestBody>) answer).refusal();
        Refusal.Busy busy = assertInstanceOf(Refusal.Busy.class, refusal);
        assertTrue(busy.reason().contains("memory for upstream bodies (6291456 bytes) stayed taken"), busy.reason());
        assertEquals(5 * MIB, budget.used());
        other.close();
        assertEquals(0, budget.waiting());
    }

    @Test
    void manifest_largerThanTheWholeBudget_refusedBeforeRead() {
        // 4 MiB declared weighs 8 MiB: more than the 6 MiB budget.
        upstream.route("GET /v2/test/app/manifests/v1", FaultyUpstream.fixed(200, OCI_MANIFEST, manifestOf(4 * (int) MIB - 64), Map.of()));

        UpstreamResult<ManifestBody> answer = client.manifest(REPO, "v1", List.of(OCI_MANIFEST)).join();

        Refusal refusal = ((UpstreamResult.Refused<ManifestBody>) answer).refusal();
        Refusal.Unavailable unavailable = assertInstanceOf(Refusal.Unavailable.class, refusal);
        assertTrue(unavailable.reason().contains("do not fit the proxy's memory budget for upstream bodies"), unavailable.reason());
        assertEquals(0, budget.used());
    }

    // ---------------------------------------------------------------- helpers

    private static ManifestBody ok(UpstreamResult<ManifestBody> answer) {
        if (answer instanceof UpstreamResult.Refused<ManifestBody> refused) {
            throw new AssertionError("refused: " + refused.refusal());
        }
        return ((UpstreamResult.Ok<ManifestBody>) answer).value();
    }

    /** An OCI manifest of exactly {@code size} bytes, its size in one annotation. */
    static byte[] manifestOf(int size) {
        String head = "{\"schemaVersion\":2,\"mediaType\":\"" + OCI_MANIFEST + "\",\"config\":{\"mediaType\":"
                + "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:" + "a".repeat(64) + "\",\"size\":2},"
                + "\"layers\":[],\"annotations\":{\"pad\":\"";
        String tail = "\"}}";
        char[] pad = new char[size - head.length() - tail.length()];
        Arrays.fill(pad, 'p');
        return (head + new String(pad) + tail).getBytes();
    }
}
