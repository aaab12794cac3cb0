package dev.pullthrough.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/**
 * Where the cache lives, how large it may grow in bytes, how long a committed blob may wait for
 * its sync ({@code syncInterval}; zero: each blob is synced before it is served), and whether big
 * blobs are written past the page cache ({@code directWrites}, where the file system takes it).
 */
public record StorageConfig(Path path, long maxSize, Optional<S3Config> s3, Duration syncInterval, boolean directWrites) {
    /** Issue 28: commits synced in batches this often, off the download path; what a start after a crash re-hashes. */
    public static final Duration DEFAULT_SYNC_INTERVAL = Duration.ofSeconds(5);
}
