package dev.pullthrough.config;

import java.nio.file.Path;
import java.util.Optional;

/** Where the cache lives and how large it may grow, in bytes. */
public record StorageConfig(Path path, long maxSize, Optional<S3Config> s3) {}
