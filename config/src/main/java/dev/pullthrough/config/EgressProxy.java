package dev.pullthrough.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * An HTTP egress proxy an upstream is reached through: {@code http://[user[:pass]@]host:port}.
 * {@code setting} names where it was configured ({@code upstreams[0].proxy}, {@code HTTPS_PROXY}),
 * for messages. The password never appears in {@link #toString()}.
 */
public record EgressProxy(String host, int port, Optional<String> username, Optional<String> password, String setting) {

    /**
     * Parses {@code text} as {@code setting} gives it. A URL without a scheme ({@code proxy:3128}, as
     * environment variables often are) means http; https and socks proxies are refused naming the setting.
     */
    public static EgressProxy parse(String setting, String text) {
        String fix = "write http://[user:pass@]host:port, e.g. http://egress.internal:3128";
        String written = text.contains("://") ? text : "http://" + text;
        URI url;
        try {
            url = new URI(written.endsWith("/") ? written.substring(0, written.length() - 1) : written);
        } catch (URISyntaxException e) {
            throw new ConfigException(setting, "'" + masked(text) + "' is not a URL", fix);
        }
        if (!"http".equalsIgnoreCase(url.getScheme())) {
            throw new ConfigException(setting, "'" + url.getScheme() + "://' proxies are not supported",
                    "give an HTTP proxy (https targets go through it with CONNECT): " + fix);
        }
        if (url.getHost() == null || url.getRawPath() != null && !url.getRawPath().isEmpty() || url.getRawQuery() != null) {
            throw new ConfigException(setting, "'" + masked(text) + "' is not a proxy address", fix);
        }
        if (url.getPort() < 0) {
            // curl assumes 1080 and Go 80: rather than guess, ask.
            throw new ConfigException(setting, "'" + masked(text) + "' has no port", fix);
        }
        Optional<String> username = Optional.empty();
        Optional<String> password = Optional.empty();
        String userInfo = url.getRawUserInfo();
        if (userInfo != null && !userInfo.isEmpty()) {
            int colon = userInfo.indexOf(':');
            username = Optional.of(decode(colon < 0 ? userInfo : userInfo.substring(0, colon)));
            password = colon < 0 ? Optional.empty() : Optional.of(decode(userInfo.substring(colon + 1)));
        }
        String host = url.getHost().startsWith("[") ? url.getHost().substring(1, url.getHost().length() - 1) : url.getHost();
        return new EgressProxy(host, url.getPort(), username, password, setting);
    }

    /** The same proxy with {@code secret} as its password (from {@code proxyPasswordFile} or the environment). */
    public EgressProxy withPassword(String secret) {
        return new EgressProxy(host, port, username, Optional.of(secret), setting);
    }

    /** {@code host:port}, as messages name the proxy. */
    public String address() {
        return host.contains(":") ? "[" + host + "]:" + port : host + ":" + port;
    }

    /** The URL without its password: {@code http://user@host:port}. */
    @Override
    public String toString() {
        return "http://" + username.map(u -> u + "@").orElse("") + address();
    }

    private static String decode(String text) {
        return URLDecoder.decode(text.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    /** {@code text} with the password of its user info replaced, for messages. */
    private static String masked(String text) {
        return text.replaceAll("(://[^:/@]*):[^@/]*@", "$1:***@");
    }
}
