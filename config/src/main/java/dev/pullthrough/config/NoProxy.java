package dev.pullthrough.config;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The hosts reached directly although a proxy is set: {@code NO_PROXY} as Go's {@code httpproxy}
 * reads it (curl agrees on these forms). Comma-separated entries: {@code *} (every host); a host
 * name, matching itself and its subdomains; {@code .domain}, matching subdomains only; an IP address;
 * a CIDR block; each name or address optionally with {@code :port}, then matching that port only.
 * Case does not matter. Unlike Go, loopback targets are not exempt by themselves: list them.
 * Entries that are none of these are ignored, as Go and curl ignore them.
 */
public final class NoProxy {
    /** Nothing exempt. */
    public static final NoProxy NONE = new NoProxy("", false, List.of());

    private static final Pattern PORT = Pattern.compile("[0-9]{1,5}");

    private final String text;
    private final boolean everything;
    private final List<Entry> entries;

    private NoProxy(String text, boolean everything, List<Entry> entries) {
        this.text = text;
        this.everything = everything;
        this.entries = List.copyOf(entries);
    }

    /** One entry: a CIDR block, or a name or address with an optional port ({@code -1}: any). */
    private record Entry(Optional<CidrBlock> block, String name, boolean subdomainsOnly, int port) {}

    public static NoProxy parse(String text) {
        boolean everything = false;
        List<Entry> entries = new ArrayList<>();
        for (String raw : text.split(",")) {
            String entry = raw.trim().toLowerCase(Locale.ROOT);
            if (entry.isEmpty()) {
                continue;
            }
            if (entry.equals("*")) {
                everything = true;
                continue;
            }
            if (entry.contains("/")) {
                try {
                    entries.add(new Entry(Optional.of(CidrBlock.parse("NO_PROXY", entry)), "", false, -1));
                } catch (ConfigException ignored) {
                    // not a CIDR block: ignored, as Go ignores it
                }
                continue;
            }
            int port = -1;
            String host = entry;
            int colon = entry.lastIndexOf(':');
            boolean bracketed = entry.startsWith("[");
            if (colon > 0 && (bracketed ? entry.indexOf("]:") == colon - 1 : entry.indexOf(':') == colon)
                    && PORT.matcher(entry.substring(colon + 1)).matches()) {
                port = Integer.parseInt(entry.substring(colon + 1));
                host = entry.substring(0, colon);
            }
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            if (host.startsWith("*.")) {
                host = host.substring(1); // Go reads *.example.com as .example.com
            }
            boolean subdomainsOnly = host.startsWith(".");
            if (subdomainsOnly) {
                host = host.substring(1);
            }
            if (host.endsWith(".")) {
                host = host.substring(0, host.length() - 1);
            }
            if (!host.isEmpty()) {
                entries.add(new Entry(Optional.empty(), canonical(host), subdomainsOnly, port));
            }
        }
        return new NoProxy(text, everything, entries);
    }

    /** Whether {@code host} on {@code port} is reached directly. */
    public boolean matches(String host, int port) {
        if (everything) {
            return true;
        }
        String target = host.toLowerCase(Locale.ROOT);
        if (target.startsWith("[") && target.endsWith("]")) {
            target = target.substring(1, target.length() - 1);
        }
        if (target.endsWith(".")) {
            target = target.substring(0, target.length() - 1);
        }
        Optional<InetAddress> address = literal(target);
        target = canonical(target);
        for (Entry entry : entries) {
            if (entry.port() >= 0 && entry.port() != port) {
                continue;
            }
            if (entry.block().isPresent()) {
                if (address.isPresent() && entry.block().get().contains(address.get())) {
                    return true;
                }
            } else if (target.equals(entry.name()) ? !entry.subdomainsOnly() : target.endsWith("." + entry.name())) {
                return true;
            }
        }
        return false;
    }

    /** Whether no host is exempt. */
    public boolean isEmpty() {
        return !everything && entries.isEmpty();
    }

    @Override
    public String toString() {
        return text;
    }

    /** An IP literal in one spelling ({@code ::1} and {@code 0:0:0:0:0:0:0:1} alike); names as they are. */
    private static String canonical(String host) {
        return literal(host).map(InetAddress::getHostAddress).orElse(host);
    }

    /** The address {@code host} spells, without a DNS lookup; empty for a name. */
    private static Optional<InetAddress> literal(String host) {
        boolean ipv4 = host.matches("[0-9]{1,3}(\\.[0-9]{1,3}){3}");
        boolean ipv6 = host.contains(":") && host.matches("[0-9a-f:.]+");
        if (!ipv4 && !ipv6) {
            return Optional.empty();
        }
        try {
            return Optional.of(InetAddress.getByName(host));
        } catch (UnknownHostException e) {
            return Optional.empty();
        }
    }
}
