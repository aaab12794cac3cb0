package dev.pullthrough.upstream;

import dev.pullthrough.config.UpstreamConfig;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.RepositoryName;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/** An upstream in front of another: every call goes to it unless a subclass answers it otherwise. */
public abstract class ForwardingUpstream implements Upstream {
    protected final Upstream upstream;

    protected ForwardingUpstream(Upstream upstream) {
        this.upstream = upstream;
    }

    @Override
    public UpstreamConfig config() {
        return upstream.config();
    }

    @Override
    public CompletableFuture<UpstreamResult<ManifestBody>> manifest(RepositoryName name, String reference, List<String> accept) {
        return upstream.manifest(name, reference, accept);
    }

    @Override
    public CompletableFuture<UpstreamResult<ManifestHead>> headManifest(RepositoryName name, String reference, List<String> accept) {
        return upstream.headManifest(name, reference, accept);
    }

    @Override
    public CompletableFuture<UpstreamResult<BlobBody>> blob(RepositoryName name, Digest digest) {
        return upstream.blob(name, digest);
    }

    @Override
    public CompletableFuture<UpstreamResult<Long>> headBlob(RepositoryName name, Digest digest) {
        return upstream.headBlob(name, digest);
    }

    @Override
    public CompletableFuture<UpstreamResult<Listing>> listing(RepositoryName name, String pathAndQuery, String kind) {
        return upstream.listing(name, pathAndQuery, kind);
    }

    @Override
    public CompletableFuture<Optional<Borrowed>> borrowTag(RepositoryName name, String tag, List<String> accept) {
        return upstream.borrowTag(name, tag, accept);
    }
}
