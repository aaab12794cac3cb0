package dev.pullthrough.cli;

import dev.pullthrough.app.ProxyCore;
import dev.pullthrough.config.EffectiveConfig;
import dev.pullthrough.upstream.CheckStep;
import dev.pullthrough.upstream.UpstreamCheck;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code check}: validates a configuration and prints it as the proxy would run it; with {@code --upstreams}, tries every upstream. */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = {"Validate the configuration (the file, then PULLTHROUGH_* environment overrides) and print the",
                "effective configuration, defaults included, with secrets masked. Exit 2 on a mistake, naming the key and the fix.",
                "With --upstreams, also try every upstream the way pulls reach it, one line per step (dns, connect, proxy,",
                "tls, challenge, token, rate limit) with the cause on failure; exit " + CheckCommand.UPSTREAM_FAILED
                        + " when an upstream does not answer every step."})
public final class CheckCommand implements Callable<Integer> {
    /** Exit code of {@code check --upstreams} when an upstream fails a step: apart from 1 (the check itself broke) and 2 (config). */
    static final int UPSTREAM_FAILED = 4;

    @Mixin
    Commands.ConfigOption config;

    @Option(names = "--upstreams", description = "Also try every upstream: DNS, connect, egress proxy, TLS, the /v2/ challenge,"
            + " a token with its credentials, the rate limit it announces.")
    boolean upstreams;

    @Override
    public Integer call() {
        return Commands.withConfig(config, "check", loaded -> {
            System.out.print(EffectiveConfig.yaml(loaded));
            if (!upstreams) {
                return 0;
            }
            System.out.println();
            List<UpstreamCheck> checks = ProxyCore.checkUpstreams(loaded);
            print(checks);
            return checks.stream().allMatch(UpstreamCheck::passed) ? 0 : UPSTREAM_FAILED;
        });
    }

    /** One line per step, {@code UPSTREAM STEP OUTCOME TIME what-or-why}, then one line per upstream. */
    private static void print(List<UpstreamCheck> checks) {
        int width = checks.stream().mapToInt(c -> c.upstream().length()).max().orElse(0);
        for (UpstreamCheck check : checks) {
            for (CheckStep step : check.steps()) {
                System.out.println(String.format(Locale.ROOT, "%-" + width + "s  %-10s  %-7s %6d ms  %s", check.upstream(),
                        step.name(), step.outcome().word(), step.took().toMillis(), step.detail()));
            }
        }
        long failing = checks.stream().filter(c -> !c.passed()).count();
        for (UpstreamCheck check : checks) {
            System.out.println(check.upstream() + " (" + check.url() + "): " + check.failure()
                    .map(step -> "FAILS at " + step.name() + ": " + step.detail()).orElse("answers"));
        }
        System.out.println(failing == 0 ? "every upstream answers" : failing + " of " + checks.size() + " upstreams fail");
    }
}
