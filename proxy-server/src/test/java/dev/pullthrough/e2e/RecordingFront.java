package dev.pullthrough.e2e;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP relay of ours in front of an HTTP server (S3Proxy) that records the head of every request
 * going through it, on every connection, keep-alive included, and passes the bytes on unchanged (a
 * presigned URL's signature covers the {@code Host} the client sent, so nothing may be rewritten).
 */
final class RecordingFront implements AutoCloseable {
    /** One request as it reached the front: method, target (path and query) and headers by lower-case name. */
    record Request(String method, String target, Map<String, String> headers) {
        boolean presigned() {
            return target.contains("X-Amz-Signature=");
        }
    }

    private final ServerSocket server;
    private final InetSocketAddress backend;
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();

    RecordingFront(URI backend) throws IOException {
        this.backend = new InetSocketAddress(backend.getHost(), backend.getPort());
        this.server = new ServerSocket(0, 64, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(this::accept, "recording-front-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    URI url() {
        return URI.create("http://127.0.0.1:" + server.getLocalPort());
    }

    int port() {
        return server.getLocalPort();
    }

    List<Request> requests() {
        return List.copyOf(requests);
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket upstream = new Socket(backend.getAddress(), backend.getPort());
                sockets.add(client);
                sockets.add(upstream);
                daemon(() -> relayRequests(client, upstream));
                daemon(() -> copy(upstream, client));
            } catch (IOException e) {
                // closed, or the backend refused: the client sees its connection end
            }
        }
    }

    /** Client to backend: each request head is parsed and recorded, its body (Content-Length) passed on. */
    private void relayRequests(Socket client, Socket upstream) {
        try (client; upstream) {
            InputStream in = new BufferedInputStream(client.getInputStream());
            OutputStream out = upstream.getOutputStream();
            while (true) {
                byte[] head = readHead(in);
                if (head == null) {
                    return;
                }
                out.write(head);
                Request request = parse(new String(head, StandardCharsets.ISO_8859_1));
                requests.add(request);
                if (request.headers().containsKey("transfer-encoding")) {
                    in.transferTo(out); // chunked bodies are not parsed: what follows is passed on unrecorded
                    return;
                }
                long length = Long.parseLong(request.headers().getOrDefault("content-length", "0").trim());
                out.write(in.readNBytes((int) length));
                out.flush();
            }
        } catch (IOException e) {
            // either side closed
        }
    }

    private static byte[] readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int last4 = 0;
        int b;
        while ((b = in.read()) != -1) {
            head.write(b);
            last4 = (last4 << 8) | b;
            if (last4 == 0x0D0A0D0A) { // the empty line after the headers
                return head.toByteArray();
            }
        }
        return null;
    }

    private static Request parse(String head) {
        String[] lines = head.split("\r\n");
        String[] requestLine = lines[0].split(" ");
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0) {
                headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
            }
        }
        return new Request(requestLine[0], requestLine.length > 1 ? requestLine[1] : "", headers);
    }

    private static void copy(Socket from, Socket to) {
        try {
            from.getInputStream().transferTo(to.getOutputStream());
        } catch (IOException e) {
            // either side closed
        } finally {
            try {
                to.shutdownOutput();
            } catch (IOException ignored) {
                // already closed
            }
        }
    }

    private static void daemon(Runnable task) {
        Thread thread = new Thread(task, "recording-front");
        thread.setDaemon(true);
        thread.start();
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket socket : sockets) {
            socket.close();
        }
    }
}
