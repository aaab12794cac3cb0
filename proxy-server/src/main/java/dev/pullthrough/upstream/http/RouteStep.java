package dev.pullthrough.upstream.http;

import java.time.Duration;

/**
 * One step on the way to an origin as {@code check --upstreams} tries it ({@code dns}, {@code connect},
 * {@code proxy}, {@code tls}): whether it worked, what was found or why not (never a secret), and how long it took.
 */
public record RouteStep(String name, boolean ok, String detail, Duration took) {}
