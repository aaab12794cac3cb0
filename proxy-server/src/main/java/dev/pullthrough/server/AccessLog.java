package dev.pullthrough.server;

import dev.pullthrough.proxy.ProxyResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One line per request: method, path, status, bytes, duration, cache hit or miss, upstream; text or JSON. */
final class AccessLog {
    private static final Logger LOG = LoggerFactory.getLogger("pullthrough.access");

    private final boolean json;

    AccessLog(boolean json) {
        this.json = json;
    }

    void record(String method, String uri, int status, long bytes, long millis, String cache, String upstream, boolean aborted) {
        if (!LOG.isInfoEnabled()) {
            return;
        }
        if (json) {
            LOG.info("{\"method\":\"{}\",\"path\":\"{}\",\"status\":{},\"bytes\":{},\"ms\":{},\"cache\":\"{}\",\"upstream\":\"{}\"{}}",
                    method, escape(uri), status, bytes, millis, cache, escape(upstream), aborted ? ",\"aborted\":true" : "");
        } else {
            LOG.info("{} {} {} {}B {}ms cache={} upstream={}{}", method, printable(uri), status, bytes, millis, cache, upstream,
                    aborted ? " aborted" : "");
        }
    }

    /** Whether the cache answered: hit, miss, or - when the question does not apply. */
    static String cacheStatus(ProxyResponse response) {
        if (response instanceof ProxyResponse.Manifest) {
            return ((ProxyResponse.Manifest) response).fromCache() ? "hit" : "miss";
        }
        if (response instanceof ProxyResponse.BlobFile) {
            return "hit";
        }
        if (response instanceof ProxyResponse.BlobStream || response instanceof ProxyResponse.BlobPassThrough) {
            return "miss";
        }
        return "-";
    }

    /** The body bytes a response carries (0 for HEAD). */
    static long bodyBytes(ProxyResponse response, boolean head) {
        if (head) {
            return 0;
        }
        if (response instanceof ProxyResponse.Manifest) {
            return ((ProxyResponse.Manifest) response).bytes().length;
        }
        if (response instanceof ProxyResponse.BlobFile) {
            ProxyResponse.BlobFile b = (ProxyResponse.BlobFile) response;
            return b.range().map(r -> r.length()).orElse(b.blob().size());
        }
        if (response instanceof ProxyResponse.BlobStream) {
            ProxyResponse.BlobStream b = (ProxyResponse.BlobStream) response;
            return b.range().map(r -> r.length()).orElse(b.size());
        }
        if (response instanceof ProxyResponse.BlobPassThrough) {
            return ((ProxyResponse.BlobPassThrough) response).size();
        }
        if (response instanceof ProxyResponse.Json) {
            return ((ProxyResponse.Json) response).body().length;
        }
        if (response instanceof ProxyResponse.Error) {
            return ((ProxyResponse.Error) response).error().body().length;
        }
        return 0;
    }

    /** A request path as it can be written to a log line: control bytes escaped, so no client can forge lines. */
    static String printable(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                StringBuilder out = new StringBuilder(text.length() + 16);
                for (char d : text.toCharArray()) {
                    if (d < 0x20 || d == 0x7f) {
                        out.append(String.format("\\x%02x", (int) d));
                    } else {
                        out.append(d);
                    }
                }
                return out.toString();
            }
        }
        return text;
    }

    private static String escape(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (char c : text.toCharArray()) {
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }
}
