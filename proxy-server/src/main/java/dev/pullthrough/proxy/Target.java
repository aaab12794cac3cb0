package dev.pullthrough.proxy;

import dev.pullthrough.oci.RepositoryName;
import dev.pullthrough.upstream.Upstream;

/**
 * Where a request goes: the upstream and the repository name as that upstream knows it;
 * {@code clientName} is the name as the client wrote it (with any upstream prefix), and
 * {@code namespace} the containerd {@code ns=} value when that chose the upstream (echoed back);
 * {@code routedBy} how the upstream was chosen: {@code ns}, {@code prefix} or {@code default}.
 */
public record Target(Upstream upstream, RepositoryName repository, RepositoryName clientName, String namespace,
                     String routedBy) {
    public String upstreamName() {
        return upstream.config().name();
    }
}
