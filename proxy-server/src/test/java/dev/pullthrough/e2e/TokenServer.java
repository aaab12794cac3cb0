package dev.pullthrough.e2e;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A small token endpoint of ours, for the reference registry's {@code auth.silly} mode: it hands
 * out opaque tokens with a chosen lifetime and records every request (scope, service, credentials).
 */
final class TokenServer implements AutoCloseable {
    /** One token request as received. */
    record Request(Map<String, String> query, String authorization) {}

    private final HttpServer server;
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final AtomicInteger issued = new AtomicInteger();
    private final long expiresIn;
    /** When set, the only {@code Authorization} given a token; any other gets 401 (a realm refusing credentials). */
    private volatile String required;

    TokenServer(long expiresInSeconds, long delayMillis) {
        this(expiresInSeconds, delayMillis, null);
    }

    /** A token server on HTTPS with {@code tls} (a context holding its certificate), or plain HTTP when null. */
    TokenServer(long expiresInSeconds, long delayMillis, javax.net.ssl.SSLContext tls) {
        this.expiresIn = expiresInSeconds;
        try {
            InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
            if (tls == null) {
                server = HttpServer.create(address, 64);
            } else {
                com.sun.net.httpserver.HttpsServer https = com.sun.net.httpserver.HttpsServer.create(address, 64);
                https.setHttpsConfigurator(new com.sun.net.httpserver.HttpsConfigurator(tls));
                server = https;
            }
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        server.setExecutor(Executors.newCachedThreadPool());
        server.createContext("/token", exchange -> {
            Map<String, String> query = new java.util.HashMap<>();
            String raw = exchange.getRequestURI().getRawQuery();
            if (raw != null) {
                for (String pair : raw.split("&")) {
                    int eq = pair.indexOf('=');
                    query.put(pair.substring(0, eq), URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
                }
            }
            String authorization = exchange.getRequestHeaders().getFirst("Authorization");
            requests.add(new Request(query, authorization));
            if (required != null && !required.equals(authorization)) {
                exchange.sendResponseHeaders(401, -1);
                exchange.close();
                return;
            }
            try {
                Thread.sleep(delayMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            byte[] body = ("{\"token\":\"tok-" + issued.incrementAndGet() + "\",\"expires_in\":" + expiresIn + "}")
                    .getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
    }

    URI realm() {
        String scheme = server instanceof com.sun.net.httpserver.HttpsServer ? "https" : "http";
        return URI.create(scheme + "://127.0.0.1:" + server.getAddress().getPort() + "/token");
    }

    /** From now on, tokens only for this {@code Authorization} value. */
    void require(String authorization) {
        required = authorization;
    }

    List<Request> requests() {
        return requests;
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
