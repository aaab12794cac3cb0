package dev.pullthrough.config;

import java.time.Duration;
import java.util.List;

/**
 * Keep-warm: {@code images} ({@code [UPSTREAM/]REPO[:TAG|@DIGEST]}) re-checked upstream every
 * {@code interval} with a HEAD and fetched when they moved. No images: off.
 */
public record WarmConfig(Duration interval, List<String> images) {
    public WarmConfig {
        images = List.copyOf(images);
    }
}
