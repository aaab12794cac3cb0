package dev.pullthrough.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code pullthrough} command line: {@code serve} and the maintenance commands. */
@Command(name = "pullthrough", mixinStandardHelpOptions = true, version = "pullthrough 0.1.0",
        description = "A caching pull-through proxy for container registries.",
        subcommands = {ServeCommand.class, FsckCommand.class, PrefetchCommand.class, ExportCommand.class,
                ImportCommand.class})
public final class Main implements Runnable {
    public static void main(String[] args) {
        System.exit(new CommandLine(new Main()).execute(args));
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
