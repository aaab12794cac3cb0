package dev.pullthrough.config;

import java.net.URI;
import java.time.Duration;
import java.util.Optional;

/**
 * The S3-compatible bucket that replicas share ({@code storage.s3}): blobs and manifests under
 * content-addressed keys below {@code prefix}. {@code endpoint} absent means the AWS endpoint of
 * {@code region}; {@code pathStyle} addresses the bucket in the path (S3Proxy, MinIO) rather than the
 * host name; without {@code accessKey} the SDK's default credentials apply (environment, instance
 * role); {@code secretKey} is already resolved from the file or environment; {@code redirect} answers
 * cached blob GETs with a 307 to a presigned URL; {@code retention} (absent: off) deletes an object no
 * replica has served or needed for that long (issue 30).
 */
public record S3Config(String bucket, Optional<URI> endpoint, String region, boolean pathStyle, Optional<String> accessKey,
                       Optional<String> secretKey, String prefix, boolean redirect, Optional<Duration> retention) {
    /** Retention under this would delete objects between two records of their use (at most one an hour). */
    public static final Duration MIN_RETENTION = Duration.ofDays(1);

    /** Without retention (the bucket keeps everything). */
    public S3Config(String bucket, Optional<URI> endpoint, String region, boolean pathStyle, Optional<String> accessKey,
                    Optional<String> secretKey, String prefix, boolean redirect) {
        this(bucket, endpoint, region, pathStyle, accessKey, secretKey, prefix, redirect, Optional.empty());
    }
}
