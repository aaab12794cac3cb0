package dev.pullthrough.access;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;

/**
 * Decides whether a request's {@code Authorization} lets it pull: always when no htpasswd is
 * configured, otherwise Basic credentials of a listed user. The proxy users' credentials stay here:
 * upstream requests carry only the upstream's own.
 */
public final class PullerAuthenticator {
    /** The realm clients are challenged with. */
    public static final String CHALLENGE = "Basic realm=\"pullthrough\", charset=\"UTF-8\"";

    private final Optional<HtpasswdUsers> users;

    public PullerAuthenticator(Optional<HtpasswdUsers> users) {
        this.users = users;
    }

    public boolean required() {
        return users.isPresent();
    }

    /** Whether the request may pull. Blocking when credentials must be checked (bcrypt). */
    public boolean allows(Optional<String> authorization) {
        if (users.isEmpty()) {
            return true;
        }
        if (authorization.isEmpty() || !authorization.get().regionMatches(true, 0, "Basic ", 0, 6)) {
            return false;
        }
        String decoded;
        try {
            decoded = new String(Base64.getDecoder().decode(authorization.get().substring(6).trim()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return false;
        }
        int colon = decoded.indexOf(':');
        return colon > 0 && users.get().verify(decoded.substring(0, colon), decoded.substring(colon + 1));
    }
}
