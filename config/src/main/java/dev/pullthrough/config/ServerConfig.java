package dev.pullthrough.config;

import java.time.Duration;
import java.util.Optional;

/**
 * The registry listener. {@code headerTimeout}: how long a request's line and headers may take to
 * arrive once they started (slow-header clients are dropped); {@code maxConnectionsPerClient}: open
 * connections one client address may hold, so that no single client can take every file descriptor.
 */
public record ServerConfig(String host, int port, Optional<TlsConfig> tls, Duration headerTimeout,
                           int maxConnectionsPerClient) {}
