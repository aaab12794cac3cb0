package dev.pullthrough.config;

import java.nio.file.Path;
import java.util.Optional;

/** TLS on the registry listener, from PEM files; a client CA turns on mutual TLS. */
public record TlsConfig(Path certFile, Path keyFile, Optional<Path> clientCaFile) {}
