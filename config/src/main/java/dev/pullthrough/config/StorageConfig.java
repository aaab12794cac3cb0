package dev.pullthrough.config;

import java.nio.file.Path;

/** Where the cache lives and how large it may grow, in bytes. */
public record StorageConfig(Path path, long maxSize) {}
