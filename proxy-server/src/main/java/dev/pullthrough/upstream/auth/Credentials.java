package dev.pullthrough.upstream.auth;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/** A user name and its secret for one upstream; {@link #toString()} never shows the secret. */
public record Credentials(String username, String secret) {
    /** The {@code Authorization} value for HTTP Basic. */
    public String basic() {
        return "Basic " + Base64.getEncoder().encodeToString((username + ":" + secret).getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String toString() {
        return "Credentials[username=" + username + ", secret=***]";
    }
}
