package dev.pullthrough.upstream;

import dev.pullthrough.config.ConfigLoader;
import dev.pullthrough.config.UpstreamConfig;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.RepositoryName;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The base of the in-process tests' fake upstreams: an upstream named {@code fake} (at a closed port,
 * never contacted) whose endpoints are unsupported until a fake overrides those its test uses.
 */
public abstract class TestUpstream implements Upstream {
    private final UpstreamConfig config;

    /** {@code settings}: more keys of the upstream, e.g. {@code "tagTtl: 5m"}. */
    protected TestUpstream(String... settings) {
        StringBuilder yaml = new StringBuilder("upstreams:\n  - name: fake\n    url: http://127.0.0.1:9\n");
        for (String setting : settings) {
            yaml.append("    ").append(setting).append('\n');
        }
        this.config = ConfigLoader.fromYaml(yaml.toString(), Map.of()).defaultUpstream();
    }

    @Override
    public UpstreamConfig config() {
        return config;
    }

    @Override
    public CompletableFuture<UpstreamResult<ManifestBody>> manifest(RepositoryName name, String reference, List<String> accept) {
        throw new UnsupportedOperationException("not used by this test");
    }

    @Override
    public CompletableFuture<UpstreamResult<ManifestHead>> headManifest(RepositoryName name, String reference, List<String> accept) {
        throw new UnsupportedOperationException("not used by this test");
    }

    @Override
    public CompletableFuture<UpstreamResult<BlobBody>> blob(RepositoryName name, Digest digest) {
        throw new UnsupportedOperationException("not used by this test");
    }

    @Override
    public CompletableFuture<UpstreamResult<Long>> headBlob(RepositoryName name, Digest digest) {
        throw new UnsupportedOperationException("not used by this test");
    }

    @Override
    public CompletableFuture<UpstreamResult<Listing>> listing(RepositoryName name, String pathAndQuery, String kind) {
        throw new UnsupportedOperationException("not used by this test");
    }
}
