package dev.pullthrough.cli;

import dev.pullthrough.app.StartupException;
import dev.pullthrough.config.ConfigException;
import dev.pullthrough.config.ConfigLoader;
import dev.pullthrough.config.PullthroughConfig;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/** What the commands share: the {@code --config} option, and one way to report failures and exit. */
final class Commands {
    private Commands() {}

    /** The {@code --config FILE} option, mixed into every command. */
    static final class ConfigOption {
        @Option(names = "--config", paramLabel = "FILE", description = "YAML config file (default: embedded defaults)")
        Path file;
    }

    /** A command's work, given the loaded configuration; returns the exit code. */
    interface Body {
        int run(PullthroughConfig config) throws Exception;
    }

    /**
     * Loads the configuration and runs {@code body}, turning failures into one line on stderr and an
     * exit code: 2 for a config mistake, 3 when the storage cannot be opened (a running server holds
     * it, say so), 1 for anything else.
     */
    static int withConfig(ConfigOption option, String action, Body body) {
        PullthroughConfig config;
        try {
            config = ConfigLoader.load(Optional.ofNullable(option.file));
        } catch (ConfigException e) {
            System.err.println("pullthrough: config error: " + e.getMessage());
            return 2;
        }
        try {
            return body.run(config);
        } catch (ConfigException e) {
            System.err.println("pullthrough: config error: " + e.getMessage());
            return 2;
        } catch (StartupException e) {
            System.err.println("pullthrough: " + inUseHint(e.getMessage(), config));
            return 3;
        } catch (Exception e) {
            System.err.println("pullthrough: " + action + " failed: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            return 1;
        }
    }

    /** The start-up failure, or, when a running server holds the data directory, one line saying so. */
    private static String inUseHint(String message, PullthroughConfig config) {
        if (message != null && message.toLowerCase().contains("lock")) {
            return "storage.path " + config.storage().path().toAbsolutePath() + " is in use by a running pullthrough; stop it"
                    + " first (prefetch also works on a running server: POST /prefetch?image=IMAGE on its admin port "
                    + config.admin().port() + ")";
        }
        return message;
    }
}
