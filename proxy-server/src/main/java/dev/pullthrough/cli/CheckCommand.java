package dev.pullthrough.cli;

import dev.pullthrough.config.EffectiveConfig;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code check}: validates a configuration and prints it as the proxy would run it. */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = {"Validate the configuration (the file, then PULLTHROUGH_* environment overrides) and print the",
                "effective configuration, defaults included, with secrets masked. Exit 2 on a mistake, naming the key and the fix."})
public final class CheckCommand implements Callable<Integer> {
    @Mixin
    Commands.ConfigOption config;

    @Override
    public Integer call() {
        return Commands.withConfig(config, "check", loaded -> {
            System.out.print(EffectiveConfig.yaml(loaded));
            return 0;
        });
    }
}
