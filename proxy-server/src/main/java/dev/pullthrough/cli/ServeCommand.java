package dev.pullthrough.cli;

import dev.pullthrough.app.ProxyApplication;
import dev.pullthrough.app.Storage;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code serve}: runs the proxy until it is stopped (SIGTERM/SIGINT shut it down gracefully). */
@Command(name = "serve", mixinStandardHelpOptions = true, description = "Run the proxy.")
public final class ServeCommand implements Callable<Integer> {
    @Mixin
    Commands.ConfigOption config;

    @Override
    public Integer call() {
        Storage.preload();
        return Commands.withConfig(config, "serve", loaded -> {
            ProxyApplication app = ProxyApplication.start(loaded);
            CountDownLatch stopped = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                app.close();
                stopped.countDown();
            }, "shutdown"));
            stopped.await();
            return 0;
        });
    }
}
