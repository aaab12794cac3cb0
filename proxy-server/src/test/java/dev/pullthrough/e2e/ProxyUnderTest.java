package dev.pullthrough.e2e;

import dev.pullthrough.app.ProxyApplication;
import dev.pullthrough.config.ConfigLoader;
import dev.pullthrough.config.PullthroughConfig;
import dev.pullthrough.metrics.Metrics;
import java.net.URI;
import java.nio.file.Path;
import java.util.Map;

/** This proxy, started in-process on a free loopback port with its own data directory. */
final class ProxyUnderTest implements AutoCloseable {
    private final ProxyApplication app;
    private final int port;

    private ProxyUnderTest(ProxyApplication app, int port) {
        this.app = app;
        this.port = port;
    }

    /** A proxy in front of {@code upstream}, named docker.io so Docker Hub naming applies. */
    static ProxyUnderTest start(Path data, URI upstream) {
        return start(data, "upstreams:\n  - name: docker.io\n    url: " + upstream + "\n    default: true\n");
    }

    /**
     * A proxy from YAML; listen address, admin port and storage path are set here (as environment
     * overrides). It binds port 0 and reports the port the system chose: no race for a free port.
     */
    static ProxyUnderTest start(Path data, String yaml) {
        return start(data, yaml, 0, 0);
    }

    /** A proxy from YAML with its admin endpoints on a port of their own, {@code adminPort}. */
    static ProxyUnderTest start(Path data, String yaml, int port, int adminPort) {
        return start(data, yaml, port, adminPort, Map.of());
    }

    /** A proxy from YAML with more of its process environment, {@code env} (e.g. {@code HTTPS_PROXY}). */
    static ProxyUnderTest start(Path data, String yaml, Map<String, String> env) {
        return start(data, yaml, 0, 0, env);
    }

    private static ProxyUnderTest start(Path data, String yaml, int port, int adminPort, Map<String, String> env) {
        Map<String, String> environment = new java.util.HashMap<>(env);
        environment.putAll(Map.of(
                "PULLTHROUGH_SERVER_HOST", "127.0.0.1",
                "PULLTHROUGH_SERVER_PORT", Integer.toString(port),
                "PULLTHROUGH_ADMIN_PORT", Integer.toString(adminPort),
                "PULLTHROUGH_STORAGE_PATH", data.toString()));
        // No background upstream checks (issue 27) unless a test asks: they would add to the upstream requests tests count.
        environment.putIfAbsent("PULLTHROUGH_ADMIN_UPSTREAMCHECKINTERVAL", "0s");
        PullthroughConfig config = ConfigLoader.fromYaml(yaml, environment);
        try {
            ProxyApplication app = ProxyApplication.start(config);
            return new ProxyUnderTest(app, app.registryPort());
        } catch (Exception e) {
            throw new AssertionError("the proxy did not start: " + e.getMessage(), e);
        }
    }

    URI url() {
        return URI.create("http://127.0.0.1:" + port);
    }

    String hostPort() {
        return "127.0.0.1:" + port;
    }

    Metrics metrics() {
        return app.metrics();
    }

    /** Requests this proxy sent upstream, of a kind (manifest, blob) and method. */
    long pendingBucketWrites() {
        return app.pendingBucketWrites();
    }

    long upstreamRequests(String kind, String method) {
        return (long) app.metrics().sum("pullthrough_upstream_requests", "kind", kind, "method", method);
    }

    @Override
    public void close() {
        app.close();
    }
}
