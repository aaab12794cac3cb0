package dev.pullthrough.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.registry.api.ApiError;
import dev.pullthrough.registry.api.ErrorCode;
import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpResponseEncoder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The status line of an error (issue 27): docker, skopeo and containerd print a 5xx answer's status
 * line, not its body, so a 5xx's reason phrase carries the message, as printable ASCII on one line.
 */
class ErrorStatusLineTest {
    private static final String REFUSED = "fetching manifest v1 of library/app from upstream docker.io failed: egress proxy "
            + "127.0.0.1:3128 (upstreams[0].proxy) refused CONNECT to registry-1.docker.io:443: 407 Proxy Authentication Required";

    @Test
    void error_upstreamUnavailable_reasonPhraseSaysWhatFailed() {
        String line = statusLine(new ApiError(ErrorCode.UPSTREAM_UNAVAILABLE, REFUSED), false);

        assertEquals("HTTP/1.1 502 Bad Gateway: " + REFUSED, line);
    }

    @Test
    void error_head_sameStatusLine() {
        assertEquals("HTTP/1.1 502 Bad Gateway: " + REFUSED, statusLine(new ApiError(ErrorCode.UPSTREAM_UNAVAILABLE, REFUSED), true));
    }

    @Test
    void error_clientError_standardReasonPhrase_theBodySaysIt() {
        assertEquals("HTTP/1.1 404 Not Found", statusLine(new ApiError(ErrorCode.MANIFEST_UNKNOWN, "tag v9 of library/app is unknown"), false));
    }

    @Test
    void error_messageWithLineBreaksAndNonAscii_oneLineOfPrintableAscii() {
        String line = statusLine(new ApiError(ErrorCode.UPSTREAM_UNAVAILABLE, "upstream said:\r\nX-Injected: yes\tcafé"), false);

        assertEquals("HTTP/1.1 502 Bad Gateway: upstream said:??X-Injected: yes?caf?", line);
    }

    @Test
    void error_longMessage_cutAtTheLimit_bodyKeepsItWhole() {
        String message = "x".repeat(ApiError.MAX_STATUS_LINE_MESSAGE + 100);
        ApiError error = new ApiError(ErrorCode.UPSTREAM_UNAVAILABLE, message);

        String line = statusLine(error, false);

        assertEquals("HTTP/1.1 502 Bad Gateway: " + "x".repeat(ApiError.MAX_STATUS_LINE_MESSAGE) + "...", line);
        assertTrue(new String(error.body(), StandardCharsets.UTF_8).contains(message));
    }

    /** The first line of the response as the encoder puts it on the wire. */
    private static String statusLine(ApiError error, boolean head) {
        EmbeddedChannel channel = new EmbeddedChannel(new HttpResponseEncoder());
        try {
            assertTrue(channel.writeOutbound(ResponseWriter.error(error, head)));
            ByteBuf encoded = channel.readOutbound();
            String wire = encoded.toString(StandardCharsets.ISO_8859_1);
            encoded.release();
            for (ByteBuf more = channel.readOutbound(); more != null; more = channel.readOutbound()) {
                more.release(); // the body, when the encoder writes it apart from the head
            }
            String line = wire.substring(0, wire.indexOf("\r\n"));
            assertFalse(line.contains("\n") || line.contains("\r"), line);
            return line;
        } finally {
            assertFalse(channel.finishAndReleaseAll());
        }
    }
}
