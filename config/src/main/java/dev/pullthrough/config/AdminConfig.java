package dev.pullthrough.config;

import java.time.Duration;
import java.util.List;

/**
 * The admin listener (/metrics, /healthz, /readyz, /prefetch); the registry port when both are
 * equal. {@code allowCidrs}: the client addresses that may use it, /healthz and /readyz excepted.
 * {@code upstreamCheckInterval}: how often the upstreams' connectivity is checked in the background
 * for {@code /upstreams.json} and the status page (issue 27); zero: never.
 */
public record AdminConfig(int port, List<CidrBlock> allowCidrs, Duration upstreamCheckInterval) {
    public static final Duration DEFAULT_UPSTREAM_CHECK_INTERVAL = Duration.ofMinutes(5);

    public AdminConfig {
        allowCidrs = List.copyOf(allowCidrs);
    }

    public AdminConfig(int port, List<CidrBlock> allowCidrs) {
        this(port, allowCidrs, DEFAULT_UPSTREAM_CHECK_INTERVAL);
    }
}
