package dev.pullthrough.e2e;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The real headless Chromium (Debian {@code chromium}): a page's DOM after its scripts ran, with
 * the browser's console log (script errors show as {@code Uncaught ...}), and screenshots.
 */
final class Chromium {
    private static final Path BINARY = Path.of("/usr/bin/chromium");

    private Chromium() {}

    /**
     * The DOM of {@code url} after {@code virtualMillis} of the page's own time (its timers and
     * requests run within it), then the console lines; fails when Chromium does.
     */
    static Processes.Result dumpDom(String url, Path profile, int virtualMillis) {
        return run(profile, "--dump-dom", "--virtual-time-budget=" + virtualMillis, url);
    }

    /** A PNG of {@code url} as a 1280-pixel-wide window shows it. */
    static Processes.Result screenshot(String url, Path profile, Path png) {
        return run(profile, "--screenshot=" + png, "--window-size=1280,1500", "--virtual-time-budget=3000", url);
    }

    private static Processes.Result run(Path profile, String... arguments) {
        Processes.require(BINARY.toString(), "chromium");
        List<String> command = new ArrayList<>(List.of(BINARY.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--disable-dev-shm-usage", "--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0"));
        command.addAll(List.of(arguments));
        // Loopback only; the proxy variables keep anything else from leaving the machine.
        return Processes.run(command, 60, Processes.FENCED).requireSuccess(command);
    }
}
