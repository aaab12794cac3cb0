package dev.pullthrough.e2e;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fault-injecting upstream of our own, for what a real registry cannot be made to do: bytes
 * that do not match their digest, resets mid-body, slowness. Answers only the routes given to it
 * ({@code "GET /v2/x/manifests/v1"}), 404 otherwise, and counts every request.
 */
final class FaultyUpstream implements AutoCloseable {
    /** What one route answers. */
    interface Answer {
        void answer(HttpExchange exchange) throws IOException;
    }

    private final HttpServer server;
    private final Map<String, Answer> routes = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> counts = new ConcurrentHashMap<>();

    FaultyUpstream() {
        try {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/", this::handle);
        server.start();
        route("GET /v2/", fixed(200, "application/json", "{}".getBytes(), Map.of()));
    }

    FaultyUpstream route(String methodAndPath, Answer answer) {
        routes.put(methodAndPath, answer);
        return this;
    }

    int count(String methodAndPath) {
        return counts.getOrDefault(methodAndPath, new AtomicInteger()).get();
    }

    URI url() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    static Answer fixed(int status, String contentType, byte[] body, Map<String, String> headers) {
        return exchange -> {
            exchange.getResponseHeaders().set("Content-Type", contentType);
            headers.forEach(exchange.getResponseHeaders()::set);
            boolean head = exchange.getRequestMethod().equals("HEAD");
            if (head) {
                exchange.getResponseHeaders().set("Content-Length", Integer.toString(body.length));
            }
            exchange.sendResponseHeaders(status, head ? -1 : body.length);
            if (!head) {
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            }
        };
    }

    /**
     * A blob sent in {@code chunk}-byte pieces with {@code delayMillis} between them, declaring its
     * full length; it stops (and the connection drops) after {@code stopAfter} bytes when that is
     * smaller than the body.
     */
    static Answer trickle(byte[] body, int chunk, long delayMillis, long stopAfter) {
        return exchange -> {
            exchange.getResponseHeaders().set("Content-Type", "application/octet-stream");
            exchange.sendResponseHeaders(200, body.length);
            OutputStream out = exchange.getResponseBody();
            int sent = 0;
            try {
                while (sent < body.length && sent < stopAfter) {
                    int n = (int) Math.min(Math.min(chunk, body.length - sent), stopAfter - sent);
                    out.write(body, sent, n);
                    out.flush();
                    sent += n;
                    if (delayMillis > 0) {
                        Thread.sleep(delayMillis);
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (sent < body.length) {
                // Leave the response short: the server drops the connection on close.
                throw new IOException("fault injected after " + sent + " bytes");
            }
            out.close();
        };
    }

    /**
     * A blob whose first {@code first} bytes are sent at once and the rest once the test opens
     * {@code release}: the test decides when the download ends and can look at the proxy meanwhile.
     */
    static Answer held(byte[] body, int first, java.util.concurrent.CountDownLatch release) {
        return exchange -> {
            exchange.getResponseHeaders().set("Content-Type", "application/octet-stream");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body, 0, first);
                out.flush();
                release.await();
                out.write(body, first, body.length - first);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while held", e);
            }
        };
    }

    private void handle(HttpExchange exchange) throws IOException {
        String key = exchange.getRequestMethod() + " " + exchange.getRequestURI().getPath();
        counts.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
        Answer answer = routes.get(key);
        try {
            if (answer == null) {
                fixed(404, "application/json", "{\"errors\":[{\"code\":\"NOT_FOUND\"}]}".getBytes(), Map.of()).answer(exchange);
            } else {
                answer.answer(exchange);
            }
        } finally {
            exchange.close();
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
