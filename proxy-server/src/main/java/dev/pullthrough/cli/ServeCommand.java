package dev.pullthrough.cli;

import dev.pullthrough.config.ConfigException;
import dev.pullthrough.config.ConfigLoader;
import dev.pullthrough.config.PullthroughConfig;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code serve}: runs the proxy until it is stopped (SIGTERM/SIGINT shut it down gracefully). */
@Command(name = "serve", mixinStandardHelpOptions = true, description = "Run the proxy.")
public final class ServeCommand implements Callable<Integer> {
    @Option(names = "--config", paramLabel = "FILE", description = "YAML config file (default: embedded defaults)")
    Path config;

    @Override
    public Integer call() throws Exception {
        PullthroughConfig loaded;
        try {
            loaded = ConfigLoader.load(Optional.ofNullable(config));
        } catch (ConfigException e) {
            System.err.println("pullthrough: config error: " + e.getMessage());
            return 2;
        }
        ProxyApplication app;
        try {
            app = ProxyApplication.start(loaded);
        } catch (ConfigException e) {
            System.err.println("pullthrough: config error: " + e.getMessage());
            return 2;
        } catch (StartupException e) {
            System.err.println("pullthrough: " + e.getMessage());
            return 1;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            app.close();
            stopped.countDown();
        }, "shutdown"));
        stopped.await();
        return 0;
    }
}
