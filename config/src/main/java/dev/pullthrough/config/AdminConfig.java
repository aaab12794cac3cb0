package dev.pullthrough.config;

import java.util.List;

/**
 * The admin listener (/metrics, /healthz, /readyz, /prefetch); the registry port when both are
 * equal. {@code allowCidrs}: the client addresses that may use it, /healthz and /readyz excepted.
 */
public record AdminConfig(int port, List<CidrBlock> allowCidrs) {
    public AdminConfig {
        allowCidrs = List.copyOf(allowCidrs);
    }
}
