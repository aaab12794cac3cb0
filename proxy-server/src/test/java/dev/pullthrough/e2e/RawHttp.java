package dev.pullthrough.e2e;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** One HTTP/1.1 exchange over a raw socket, for requests a normal client refuses to send. */
final class RawHttp {
    private RawHttp() {}

    /** Sends {@code request} as is and returns everything the server sent until it closed (or 10s). */
    static String exchange(String hostPort, String request) {
        String[] parts = hostPort.split(":");
        try (Socket socket = new Socket(parts[0], Integer.parseInt(parts[1]))) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream received = new ByteArrayOutputStream();
            byte[] buffer = new byte[8192];
            int n;
            try {
                while ((n = in.read(buffer)) >= 0) {
                    received.write(buffer, 0, n);
                }
            } catch (IOException e) {
                // reset or timeout: return what arrived
            }
            return received.toString(StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            throw new AssertionError("raw request to " + hostPort + " failed: " + e, e);
        }
    }
}
