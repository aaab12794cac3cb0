package dev.pullthrough.config;

import java.net.URI;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Replicas coordinating through Redis ({@code cluster}): {@code redis} the server
 * ({@code redis://} or {@code rediss://}, a password in the URL or from {@code passwordFile}),
 * {@code advertise} how the other replicas reach this one's peer endpoint, {@code secret} (read from
 * {@code secretFile}) what authenticates replica-to-replica requests.
 */
public record ClusterConfig(URI redis, Optional<String> redisPassword, URI advertise, Path secretFile, String secret) {
    @Override
    public String toString() {
        return "ClusterConfig[redis=" + redis.getScheme() + "://" + redis.getHost() + ":" + redis.getPort()
                + ", advertise=" + advertise + "]"; // never the secrets
    }
}
