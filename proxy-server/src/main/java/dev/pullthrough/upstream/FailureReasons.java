package dev.pullthrough.upstream;

import dev.pullthrough.upstream.http.EgressProxyFailure;
import java.net.ConnectException;
import java.net.UnknownHostException;
import java.nio.channels.UnresolvedAddressException;
import java.util.concurrent.CompletionException;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;

/** Says why a request to an upstream failed in words an operator can act on, not an exception's class name. */
final class FailureReasons {
    private FailureReasons() {}

    static String describe(Throwable failure, String host) {
        Throwable cause = failure;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof EgressProxyFailure) {
                return t.getMessage(); // names the proxy and its answer; checked first, its cause may be a ConnectException
            }
            if (t instanceof UnresolvedAddressException || t instanceof UnknownHostException) {
                return "cannot resolve " + host;
            }
            if (t instanceof ConnectException) {
                return "connection to " + host + " refused";
            }
            if (t instanceof SSLHandshakeException) {
                return "TLS handshake with " + host + " failed: " + t.getMessage();
            }
            if (t instanceof SSLException) {
                return "TLS with " + host + " failed: " + t.getMessage();
            }
        }
        String message = cause.getMessage();
        return message == null || message.isBlank() ? cause.getClass().getSimpleName() + " talking to " + host
                : message + " (talking to " + host + ")";
    }
}
