package dev.pullthrough.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.channel.DefaultChannelId;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import org.junit.jupiter.api.Test;

/** One connection's part in a graceful stop (issue 30), on an {@link EmbeddedChannel}: requests counted, last responses closing. */
class DrainingConnectionTest {
    private final ConnectionDrain drain = new ConnectionDrain();

    private EmbeddedChannel connection() {
        // An id of its own: every EmbeddedChannel has the same one by default, and the drain keeps its connections by id.
        EmbeddedChannel channel = new EmbeddedChannel(DefaultChannelId.newInstance());
        channel.pipeline().addLast(drain.track(channel));
        return channel;
    }

    private static void request(EmbeddedChannel channel) {
        channel.writeInbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/v2/"));
        channel.<Object>readInbound();
    }

    private static HttpResponse respond(EmbeddedChannel channel) {
        channel.writeOutbound(new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK));
        channel.writeOutbound(LastHttpContent.EMPTY_LAST_CONTENT);
        channel.runPendingTasks();
        HttpResponse out = channel.readOutbound();
        channel.<Object>readOutbound();
        return out;
    }

    // ---------------------------------------------------------------- serving

    @Test
    void respond_notDraining_connectionKeptAliveRequestCounted() {
        EmbeddedChannel channel = connection();
        request(channel);
        assertEquals(1, drain.openRequests());
        assertNull(respond(channel).headers().get(HttpHeaderNames.CONNECTION));
        assertTrue(channel.isOpen());
        assertEquals(0, drain.openRequests());
        assertFalse(channel.finishAndReleaseAll());
    }

    // ---------------------------------------------------------------- draining

    @Test
    void respond_draining_saysConnectionCloseAndClosesAfterTheLastByte() {
        EmbeddedChannel channel = connection();
        request(channel);
        drain.startDraining();
        channel.writeOutbound(new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK));
        HttpResponse out = channel.readOutbound();
        assertEquals("close", out.headers().get(HttpHeaderNames.CONNECTION));
        assertTrue(channel.isOpen(), "open until the body is written");
        channel.writeOutbound(LastHttpContent.EMPTY_LAST_CONTENT);
        channel.runPendingTasks();
        assertFalse(channel.isOpen());
        assertEquals(0, drain.openRequests());
        channel.finishAndReleaseAll();
    }

    @Test
    void closeIdle_idleAndBusyConnections_idleClosedNowBusyAfterItsResponse() {
        EmbeddedChannel idle = connection();
        EmbeddedChannel busy = connection();
        request(busy);
        // The busy one's response began before the drain: no Connection: close, yet it ends the connection.
        busy.writeOutbound(new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK));
        drain.startDraining();
        assertEquals(1, drain.closeIdle(), "one connection was idle");
        assertFalse(idle.isOpen());
        assertTrue(busy.isOpen());
        assertEquals(1, drain.openRequests());
        busy.writeOutbound(LastHttpContent.EMPTY_LAST_CONTENT);
        busy.runPendingTasks();
        assertFalse(busy.isOpen(), "closed once its response is out");
        assertEquals(0, drain.openRequests());
        assertEquals(0, drain.connections());
        idle.finishAndReleaseAll();
        busy.finishAndReleaseAll();
    }

    @Test
    void channelInactive_requestsNeverAnswered_noLongerCounted() {
        EmbeddedChannel channel = connection();
        request(channel);
        request(channel); // pipelined behind the first
        assertEquals(2, drain.openRequests());
        channel.close();
        assertEquals(0, drain.openRequests(), "a client gone has nothing in flight");
        channel.finishAndReleaseAll();
    }
}
