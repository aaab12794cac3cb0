package dev.pullthrough.bench;

import dev.pullthrough.cache.CachedMetadataStore;
import dev.pullthrough.config.ConfigLoader;
import dev.pullthrough.config.PullthroughConfig;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.Reference;
import dev.pullthrough.oci.RepositoryName;
import dev.pullthrough.proxy.ManifestAdmission;
import dev.pullthrough.proxy.ManifestService;
import dev.pullthrough.proxy.ProxyResponse;
import dev.pullthrough.proxy.Target;
import dev.pullthrough.registry.api.AcceptHeader;
import dev.pullthrough.registry.api.RouteParser;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.maintenance.CacheJanitor;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import dev.pullthrough.storage.meta.StoredManifest;
import dev.pullthrough.storage.meta.TagKey;
import dev.pullthrough.storage.meta.TagResolution;
import dev.pullthrough.upstream.UpstreamClient;
import dev.pullthrough.upstream.http.ClientLoops;
import dev.pullthrough.upstream.auth.TokenCache;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The per-request work of a warm manifest pull, piece by piece: route parsing, Accept
 * normalisation, building the tag key, and the whole in-memory manifest hit.
 * Run: {@code java -jar benchmarks/target/benchmarks.jar} (after {@code mvn -DskipTests package}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class HotPathBenchmark {
    private static final String DIGEST = "sha256:" + "ab".repeat(32);
    private static final List<String> ACCEPT = List.of(
            "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, "
                    + "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json");

    private Path dir;
    private RocksMetadataStore rocks;
    private ManifestService manifests;
    private Target target;
    private Reference tag;
    private Reference digest;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        dir = Files.createTempDirectory("pullthrough-jmh");
        PullthroughConfig config = ConfigLoader.fromYaml("upstreams:\n  - name: docker.io\n    url: http://127.0.0.1:9\n", Map.of());
        BlobPaths paths = new BlobPaths(dir);
        rocks = new RocksMetadataStore(paths.metadataDir());
        CachedMetadataStore metadata = new CachedMetadataStore(rocks, 64L << 20, 100_000);
        Metrics metrics = new Metrics();
        CacheJanitor janitor = new CacheJanitor(metadata, new FileBlobStore(paths), 1L << 40, d -> false, e -> { }, Clock.systemUTC(), Runnable::run);
        ManifestAdmission admission = new ManifestAdmission(metadata, janitor);
        manifests = new ManifestService(metadata, metadata, admission, janitor, metrics, Clock.systemUTC(), false, Runnable::run);
        UpstreamClient upstream = new UpstreamClient(config.defaultUpstream(),
                UpstreamClient.newHttpClient(config.defaultUpstream(), new ClientLoops()), new TokenCache(), metrics);
        RepositoryName name = RepositoryName.parse("library/alpine");
        target = new Target(upstream, name, name, null, "default");
        byte[] bytes = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[]}"
                .getBytes(StandardCharsets.UTF_8);
        StoredManifest manifest = admission.admit("docker.io", "library/alpine", Digest.sha256Of(bytes),
                "application/vnd.oci.image.index.v1+json", bytes);
        metadata.putTag(TagKey.own("docker.io", "library/alpine", "3.19"),
                new TagResolution(manifest.digest(), manifest.mediaType(), System.currentTimeMillis() + 3_600_000));
        tag = Reference.parse("3.19");
        digest = Reference.parse(manifest.digest().toString());
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        rocks.close();
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Benchmark
    public RouteParser.Parsed parseManifestRoute() {
        return RouteParser.parse("GET", "/v2/library/alpine/manifests/" + DIGEST);
    }

    @Benchmark
    public String normaliseAccept() {
        return AcceptHeader.normalise(ACCEPT);
    }

    @Benchmark
    public TagKey buildTagKey() {
        return new TagKey("docker.io", "library/alpine", "3.19", AcceptHeader.normalise(ACCEPT));
    }

    @Benchmark
    public Optional<ProxyResponse> manifestHitByTag() {
        return manifests.fromMemory(target, tag, ACCEPT);
    }

    @Benchmark
    public Optional<ProxyResponse> manifestHitByDigest() {
        return manifests.fromMemory(target, digest, ACCEPT);
    }
}
