package dev.pullthrough.proxy;

import dev.pullthrough.upstream.Refusal;
import java.nio.charset.StandardCharsets;

/**
 * An upstream's refusal in words, for messages a person reads (prefetch, keep-warm): what the
 * upstream answered, never a Java object's identity such as {@code OwnError[status=404, body=[B@1f2a]}.
 */
final class RefusalText {
    /** Enough of an upstream's own error body to read its code and message, not enough to flood a log. */
    private static final int MAX_BODY_CHARS = 300;

    private RefusalText() {}

    /** Why a stale or borrowed answer is served, for its {@code Warning: 299}: "upstream X " + these words. */
    static String outageWords(Refusal outage) {
        return outage instanceof Refusal.RateLimited ? "is rate-limiting the proxy"
                : outage instanceof Refusal.CredentialsRefused ? "refused the proxy's credentials" : "is unavailable";
    }

    static String describe(Refusal refusal) {
        if (refusal instanceof Refusal.OwnError own) {
            return "it answered " + own.status() + ": " + bodyText(own.body());
        }
        if (refusal instanceof Refusal.NotFound) {
            return "it does not have it (404)";
        }
        if (refusal instanceof Refusal.Rejected rejected) {
            return "it answered " + rejected.status();
        }
        if (refusal instanceof Refusal.Unauthorized) {
            return "it refused the proxy's credentials (401)";
        }
        if (refusal instanceof Refusal.InsufficientScope) {
            return "the repository does not exist there or the proxy's credentials may not pull it";
        }
        if (refusal instanceof Refusal.CredentialsRefused refused) {
            return "it refused the proxy's credentials (" + refused.status() + ")";
        }
        if (refusal instanceof Refusal.Denied) {
            return "it denied access (403)";
        }
        if (refusal instanceof Refusal.RateLimited limited) {
            return "it is rate-limiting the proxy (429" + limited.retryAfter().map(v -> ", retry after " + v).orElse("") + ")";
        }
        if (refusal instanceof Refusal.ServerError serverError) {
            return "it answered " + serverError.status();
        }
        if (refusal instanceof Refusal.TimedOut timedOut) {
            return "it timed out: " + timedOut.reason();
        }
        if (refusal instanceof Refusal.Unavailable unavailable) {
            return "it cannot be reached: " + unavailable.reason();
        }
        return refusal.getClass().getSimpleName();
    }

    /** The body as text on one line, cut short; its size when it is not text. */
    private static String bodyText(byte[] body) {
        String text = new String(body, 0, Math.min(body.length, MAX_BODY_CHARS * 4), StandardCharsets.UTF_8);
        StringBuilder line = new StringBuilder();
        for (int i = 0; i < text.length() && line.length() < MAX_BODY_CHARS; i++) {
            char c = text.charAt(i);
            line.append(Character.isISOControl(c) ? ' ' : c);
        }
        String trimmed = line.toString().trim();
        if (trimmed.isEmpty()) {
            return "an empty error body";
        }
        return body.length > MAX_BODY_CHARS ? trimmed + "... (" + body.length + " bytes)" : trimmed;
    }
}
