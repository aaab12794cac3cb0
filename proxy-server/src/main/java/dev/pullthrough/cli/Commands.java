package dev.pullthrough.cli;

import dev.pullthrough.config.PullthroughConfig;

/** What the maintenance commands share. */
final class Commands {
    private Commands() {}

    /** The start-up failure, or, when a running server holds the data directory, one line saying so and what to do. */
    static String inUseHint(String message, PullthroughConfig config, String instead) {
        if (message != null && message.toLowerCase().contains("lock")) {
            return "storage.path " + config.storage().path().toAbsolutePath()
                    + " is in use by a running pullthrough; stop it first" + (instead.isEmpty() ? "" : ", or use: " + instead);
        }
        return message;
    }
}
