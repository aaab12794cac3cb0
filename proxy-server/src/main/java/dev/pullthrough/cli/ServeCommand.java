package dev.pullthrough.cli;

import dev.pullthrough.app.ProxyApplication;
import dev.pullthrough.app.Storage;
import dev.pullthrough.app.StopRequests;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code serve}: runs the proxy until it is stopped (SIGTERM/SIGINT shut it down gracefully). */
@Command(name = "serve", mixinStandardHelpOptions = true, description = {
        "Run the proxy: the registry API (/v2/) on server.port (default 5000); /metrics, /healthz, /readyz,",
        "the status page (/), /status.json, /cache/images and /prefetch on admin.port (default 5001,",
        "loopback clients only unless admin.allowCidrs says otherwise).",
        "Without --config it runs on embedded defaults (./data, 50GiB, Docker Hub).",
        "Every key can be set from the environment: PULLTHROUGH_ + the key path in upper case, joined with _,",
        "list items by index: PULLTHROUGH_SERVER_PORT=5050, PULLTHROUGH_STORAGE_PATH=/var/lib/pullthrough,",
        "PULLTHROUGH_STORAGE_MAXSIZE=200GiB, PULLTHROUGH_UPSTREAMS_0_URL=https://mirror.example,",
        "PULLTHROUGH_UPSTREAMS_0_PASSWORD=... . 'pullthrough check' prints the resulting configuration."},
        footer = {"SIGTERM or SIGINT stops it gracefully: /readyz answers 503 at once, the listeners accept for server.drainDelay (5s),",
                "responses and downloads in flight finish until server.drainTimeout (30s) after the signal, then it exits 0.",
                "A second signal stops it at once; committed blobs are kept."})
public final class ServeCommand implements Callable<Integer> {
    @Mixin
    Commands.ConfigOption config;

    @Override
    public Integer call() {
        Storage.preload();
        return Commands.withConfig(config, "serve", loaded -> {
            ProxyApplication app = ProxyApplication.start(loaded);
            StopRequests stop = new StopRequests(app::startDraining);
            StopSignals.install(stop);
            // Whatever else ends the JVM (SIGHUP, an exit elsewhere) still closes the storage; after a drain it does nothing.
            Runtime.getRuntime().addShutdownHook(new Thread(app::close, "shutdown"));
            stop.awaitStop();
            app.drainAndClose(stop);
            return 0;
        });
    }
}
