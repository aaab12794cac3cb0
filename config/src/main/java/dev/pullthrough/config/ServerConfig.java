package dev.pullthrough.config;

import java.time.Duration;
import java.util.Optional;

/**
 * The registry listener. {@code headerTimeout}: how long a request's line and headers may take to
 * arrive once they started (slow-header clients are dropped); {@code maxConnectionsPerClient}: open
 * connections one client address may hold, so that no single client can take every file descriptor.
 * On SIGTERM (issue 30) the listeners keep accepting for {@code drainDelay} while the load balancer
 * stops routing here, then responses in flight and downloads get until {@code drainTimeout} after
 * the signal to finish.
 */
public record ServerConfig(String host, int port, Optional<TlsConfig> tls, Duration headerTimeout,
                           int maxConnectionsPerClient, Duration drainDelay, Duration drainTimeout) {
    public static final Duration DEFAULT_DRAIN_DELAY = Duration.ofSeconds(5);
    public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(30);
}
