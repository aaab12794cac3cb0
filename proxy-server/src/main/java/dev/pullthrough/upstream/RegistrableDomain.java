package dev.pullthrough.upstream;

import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;
import org.apache.hc.client5.http.psl.PublicSuffixMatcher;
import org.apache.hc.client5.http.psl.PublicSuffixMatcherLoader;

/**
 * The registrable domain of a host name ({@code docker.io} for {@code auth.docker.io}), by the public
 * suffix list Apache HttpClient 5 ships and keeps current, private suffixes included (two
 * {@code github.io} sites are not one domain). Loaded once, when the first upstream is set up.
 */
final class RegistrableDomain {
    private static final PublicSuffixMatcher SUFFIXES = PublicSuffixMatcherLoader.getDefault();
    /** IPv4 as URLs spell it, or any name whose last label is a number (never a domain). */
    private static final Pattern NUMERIC = Pattern.compile(".*(^|\\.)[0-9]+\\.?$");

    private RegistrableDomain() {}

    /**
     * The registrable domain of {@code host}, or empty for an IP address, a single-label name such as
     * {@code localhost}, and a public suffix itself: such hosts are only ever themselves.
     */
    static Optional<String> of(String host) {
        if (host == null || host.startsWith("[") || !host.contains(".") || NUMERIC.matcher(host).matches()) {
            return Optional.empty();
        }
        String name = host.toLowerCase(Locale.ROOT);
        if (name.endsWith(".")) {
            name = name.substring(0, name.length() - 1);
        }
        return Optional.ofNullable(SUFFIXES.getDomainRoot(name));
    }
}
