package dev.pullthrough.config;

import java.util.Optional;

/** The registry listener. */
public record ServerConfig(String host, int port, Optional<TlsConfig> tls) {}
