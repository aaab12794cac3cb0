package dev.pullthrough.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code pullthrough} command line: {@code serve} and the maintenance commands. */
@Command(name = "pullthrough", mixinStandardHelpOptions = true, version = "pullthrough 0.1.0",
        description = "A caching pull-through proxy for container registries.",
        subcommands = {ServeCommand.class, FsckCommand.class, PrefetchCommand.class, ExportCommand.class,
                ImportCommand.class, ListCommand.class, PurgeCommand.class, CheckCommand.class})
public final class Main implements Runnable {
    public static void main(String[] args) {
        // The JDK HTTP client reads bodies in 16 KiB buffers by default; 256 KiB halves the time of a
        // cold blob download here (bench/run.sh). Read once, before the first client is built.
        if (System.getProperty("jdk.httpclient.bufsize") == null) {
            System.setProperty("jdk.httpclient.bufsize", Integer.toString(256 * 1024));
        }
        System.exit(new CommandLine(new Main()).execute(args));
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
