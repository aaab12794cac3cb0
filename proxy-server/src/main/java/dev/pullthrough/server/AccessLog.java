package dev.pullthrough.server;

import dev.pullthrough.proxy.ProxyResponse;
import io.netty.channel.EventLoop;
import java.time.Clock;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.Executor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One line per request, a peer replica's too: time, method, path, status, bytes, duration, cache hit
 * or miss, upstream, and the route as the metrics name it (manifest, blob, peer, ...); text or JSON. Lines are gathered per event loop and handed to the logger once per turn of the
 * loop, as one event: under load a turn answers dozens of requests, and one log event (one queue
 * entry, one wake-up of the log writer) per request cost a quarter of a cached manifest's time.
 * Each line carries its own timestamp, so the logger's pattern for these events is only the message.
 */
final class AccessLog {
    private static final Logger LOG = LoggerFactory.getLogger("pullthrough.access");
    /** Flushed at once past this size, so one batch never grows without bound. */
    private static final int MAX_BATCH_CHARS = 64 * 1024;

    private final boolean json;
    private final Clock clock;
    /** Lines not yet handed to the logger, per event loop thread. */
    private final ThreadLocal<StringBuilder> pending = ThreadLocal.withInitial(() -> new StringBuilder(4096));
    private final ThreadLocal<Timestamps> timestamps = ThreadLocal.withInitial(Timestamps::new);

    AccessLog(boolean json) {
        this(json, Clock.systemUTC());
    }

    AccessLog(boolean json, Clock clock) {
        this.json = json;
        this.clock = clock;
    }

    /**
     * Records one request; on an event loop the line waits for the end of the loop's turn,
     * anywhere else it is logged at once.
     */
    void record(Executor loop, String client, String method, String uri, int status, long bytes, long millis, String cache,
                String upstream, String route, boolean aborted) {
        if (!LOG.isInfoEnabled()) {
            return;
        }
        boolean batched = loop instanceof EventLoop eventLoop && eventLoop.inEventLoop();
        StringBuilder out = batched ? pending.get() : new StringBuilder(256);
        boolean first = out.length() == 0;
        if (!first) {
            out.append('\n');
        }
        line(out, client, method, uri, status, bytes, millis, cache, upstream, route, aborted);
        if (!batched || out.length() > MAX_BATCH_CHARS) {
            flush(out);
        } else if (first) {
            loop.execute(() -> flush(pending.get()));
        }
    }

    /** Writes one line, without its newline. */
    void line(StringBuilder out, String client, String method, String uri, int status, long bytes, long millis, String cache,
              String upstream, String route, boolean aborted) {
        String time = timestamps.get().format(clock.millis());
        if (json) {
            out.append("{\"time\":\"").append(time).append("\",\"client\":\"").append(client)
                    .append("\",\"method\":\"").append(method)
                    .append("\",\"path\":\"");
            escape(out, uri);
            out.append("\",\"status\":").append(status).append(",\"bytes\":").append(bytes).append(",\"ms\":").append(millis)
                    .append(",\"cache\":\"").append(cache).append("\",\"upstream\":\"");
            escape(out, upstream);
            out.append("\",\"route\":\"").append(route);
            out.append(aborted ? "\",\"aborted\":true}" : "\"}");
        } else {
            out.append(time).append(' ').append(client).append(' ').append(method).append(' ').append(printable(uri)).append(' ').append(status)
                    .append(' ').append(bytes).append("B ").append(millis).append("ms cache=").append(cache)
                    .append(" upstream=").append(upstream).append(" route=").append(route);
            if (aborted) {
                out.append(" aborted");
            }
        }
    }

    private static void flush(StringBuilder lines) {
        if (lines.length() > 0) {
            LOG.info(lines.toString());
            lines.setLength(0);
        }
    }

    /** ISO-8601 UTC with milliseconds; the part up to the second is formatted once a second. */
    private static final class Timestamps {
        private long second = Long.MIN_VALUE;
        private String prefix;

        String format(long epochMillis) {
            long s = Math.floorDiv(epochMillis, 1000);
            if (s != second) {
                second = s;
                prefix = DateTimeFormatter.ISO_LOCAL_DATE_TIME.format(
                        LocalDateTime.ofEpochSecond(s, 0, ZoneOffset.UTC)).substring(0, 19) + '.';
            }
            int ms = (int) Math.floorMod(epochMillis, 1000);
            return prefix + (char) ('0' + ms / 100) + (char) ('0' + ms / 10 % 10) + (char) ('0' + ms % 10) + 'Z';
        }
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

    private static void escape(StringBuilder out, String text) {
        for (char c : text.toCharArray()) {
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
    }
}
