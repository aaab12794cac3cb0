package dev.pullthrough.config;

import java.net.URI;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * How an upstream's requests leave this machine: directly, or through an HTTP proxy chosen per
 * target. {@code upstreams[].proxy} sends every request of that upstream (its registry, token realm
 * and redirect targets) through one proxy; without it, {@code https_proxy}/{@code HTTPS_PROXY} serve
 * https targets, {@code http_proxy}/{@code HTTP_PROXY} plain http ones (lower case first, as curl),
 * and {@code NO_PROXY} names the hosts reached directly.
 */
public record Egress(Optional<EgressProxy> https, Optional<EgressProxy> http, NoProxy noProxy) {
    /** Every request goes straight to its target. */
    public static Egress direct() {
        return new Egress(Optional.empty(), Optional.empty(), NoProxy.NONE);
    }

    /** Every request goes through {@code proxy} (the {@code proxy} key: the operator named it for this upstream). */
    public static Egress through(EgressProxy proxy) {
        return new Egress(Optional.of(proxy), Optional.of(proxy), NoProxy.NONE);
    }

    /** What the standard variables in {@code env} say; direct when none is set. */
    public static Egress fromEnvironment(Map<String, String> env) {
        Optional<EgressProxy> https = variable(env, "https_proxy", "HTTPS_PROXY");
        Optional<EgressProxy> http = variable(env, "http_proxy", "HTTP_PROXY");
        NoProxy noProxy = first(env, "no_proxy", "NO_PROXY").map(e -> NoProxy.parse(e.getValue())).orElse(NoProxy.NONE);
        return new Egress(https, http, noProxy);
    }

    /** The proxy a request to {@code target} goes through; empty: straight to the target. */
    public Optional<EgressProxy> proxyFor(URI target) {
        String scheme = target.getScheme() == null ? "" : target.getScheme().toLowerCase(Locale.ROOT);
        Optional<EgressProxy> proxy = scheme.equals("https") ? https : scheme.equals("http") ? http : Optional.empty();
        if (proxy.isEmpty() || target.getHost() == null) {
            return Optional.empty();
        }
        int port = target.getPort() >= 0 ? target.getPort() : scheme.equals("https") ? 443 : 80;
        return noProxy.matches(target.getHost(), port) ? Optional.empty() : proxy;
    }

    /** The proxy the {@code proxy} key named, if that is where this came from (not the variables). */
    public Optional<EgressProxy> fromKey() {
        return https.filter(proxy -> https.equals(http) && noProxy.isEmpty() && proxy.setting().endsWith(".proxy"));
    }

    public boolean isDirect() {
        return https.isEmpty() && http.isEmpty();
    }

    /** For the start-up log: the route without any password, e.g. {@code via http://user@egress:3128 (upstreams[0].proxy)}. */
    @Override
    public String toString() {
        if (isDirect()) {
            return "direct";
        }
        if (fromKey().isPresent()) {
            return "via " + fromKey().get() + " (" + fromKey().get().setting() + ")";
        }
        StringBuilder text = new StringBuilder();
        https.ifPresent(p -> text.append("https via ").append(p).append(" (").append(p.setting()).append(")"));
        http.ifPresent(p -> text.append(text.length() > 0 ? ", " : "").append("http via ").append(p).append(" (").append(p.setting()).append(")"));
        if (!noProxy.isEmpty()) {
            text.append(", direct to NO_PROXY '").append(noProxy).append("'");
        }
        return text.toString();
    }

    private static Optional<EgressProxy> variable(Map<String, String> env, String lower, String upper) {
        return first(env, lower, upper).map(e -> EgressProxy.parse(e.getKey(), e.getValue().trim()));
    }

    /** The first of the variables set to something, lower case first as curl reads them; an empty one counts as unset. */
    private static Optional<Map.Entry<String, String>> first(Map<String, String> env, String lower, String upper) {
        for (String name : new String[] {lower, upper}) {
            String value = env.get(name);
            if (value != null && !value.isBlank()) {
                return Optional.of(Map.entry(name, value));
            }
        }
        return Optional.empty();
    }
}
