package dev.pullthrough.config;

import java.util.List;
import java.util.Optional;

/**
 * The whole configuration of one proxy, validated. Built by {@link ConfigLoader}.
 * {@code jsonAccessLog}: access log lines as JSON objects ({@code log.format: json}) instead of text.
 */
public record PullthroughConfig(
        ServerConfig server,
        AdminConfig admin,
        StorageConfig storage,
        boolean offline,
        boolean jsonAccessLog,
        AuthConfig auth,
        List<UpstreamConfig> upstreams,
        WarmConfig warm,
        Optional<ClusterConfig> cluster) {

    public PullthroughConfig {
        upstreams = List.copyOf(upstreams);
    }

    /** The upstream that requests without a prefix or {@code ns=} go to. */
    public UpstreamConfig defaultUpstream() {
        return upstreams.stream().filter(UpstreamConfig::isDefault).findFirst().orElseThrow();
    }

    public Optional<UpstreamConfig> upstream(String name) {
        return upstreams.stream().filter(u -> u.name().equals(name)).findFirst();
    }
}
