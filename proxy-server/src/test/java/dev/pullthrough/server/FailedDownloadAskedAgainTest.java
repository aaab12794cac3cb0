package dev.pullthrough.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.proxy.GrowingBlob;
import dev.pullthrough.proxy.ProxyResponse;
import dev.pullthrough.proxy.PullApi;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.stream.ChunkedWriteHandler;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client whose answer follows a download that failed before the client got a byte of it (the
 * download joined a peer replica's stream, and that replica was killed) is not sent a status line
 * and a cut: the request is asked again, once, and joins a new download (issue 28).
 */
class FailedDownloadAskedAgainTest {
    private static final Digest DIGEST = Digest.parse("sha256:" + "ab".repeat(32));
    private static final byte[] BLOB = "the whole blob, from a new download".getBytes();

    @TempDir
    Path dir;

    @Test
    void streamOfAFailedDownload_askedAgain_theSecondAnswerIsWritten() throws Exception {
        FileChannel firstFile = openTemp();
        List<ProxyResponse> answers = new ArrayList<>(List.of(
                new ProxyResponse.BlobStream(new StubBlob(new IOException("the peer closed the connection")), BLOB.length, firstFile,
                        Optional.empty()),
                new ProxyResponse.Json(200, "application/octet-stream", BLOB, Map.of())));
        AtomicInteger asked = new AtomicInteger();
        EmbeddedChannel client = clientOf(asked, answers);

        client.writeInbound(blobRequest());
        client.runPendingTasks();

        Object head = client.readOutbound();
        assertEquals(200, assertInstanceOf(HttpResponse.class, head).status().code());
        assertArrayEquals(BLOB, bodyOf(head, client));
        assertEquals(2, asked.get(), "asked once more");
        assertFalse(firstFile.isOpen(), "the first answer was released");
        assertTrue(client.isActive());
        client.finishAndReleaseAll();
    }

    @Test
    void secondAnswerFollowsAFailedDownloadToo_notAskedAThirdTime_theConnectionIsCut() throws Exception {
        List<ProxyResponse> answers = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            answers.add(new ProxyResponse.BlobStream(new StubBlob(new IOException("the upstream is gone")), BLOB.length, openTemp(),
                    Optional.empty()));
        }
        AtomicInteger asked = new AtomicInteger();
        EmbeddedChannel client = clientOf(asked, answers);

        client.writeInbound(blobRequest());
        client.runPendingTasks();

        assertEquals(2, asked.get());
        assertFalse(client.isActive(), "a short body never looks like success");
        client.finishAndReleaseAll();
    }

    @Test
    void streamOfADownloadGoingOn_writtenAsItIs() throws Exception {
        List<ProxyResponse> answers = new ArrayList<>(List.of(
                new ProxyResponse.BlobStream(new StubBlob(null), BLOB.length, openTemp(), Optional.empty()),
                new ProxyResponse.Json(500, "application/json", new byte[0], Map.of())));
        AtomicInteger asked = new AtomicInteger();
        EmbeddedChannel client = clientOf(asked, answers);

        client.writeInbound(blobRequest());
        client.runPendingTasks();

        HttpResponse head = assertInstanceOf(HttpResponse.class, client.readOutbound());
        assertEquals(200, head.status().code());
        assertEquals(1, asked.get());
        client.finishAndReleaseAll();
    }

    private FileChannel openTemp() throws IOException {
        Path file = Files.createTempFile(dir, "growing", "");
        return FileChannel.open(file, StandardOpenOption.READ);
    }

    private static EmbeddedChannel clientOf(AtomicInteger asked, List<ProxyResponse> answers) {
        PullAnswers api = (method, uri, accept, range, authorization) -> CompletableFuture.completedFuture(
                new PullApi.Reply(answers.get(asked.getAndIncrement()), Map.of(), "blob", "docker.io"));
        return new EmbeddedChannel(new ChunkedWriteHandler(), new RegistryHandler(api, Optional.empty(), Optional.empty(),
                new Metrics(), ClientPolicy.ANYONE, new AccessLog(false)));
    }

    private static DefaultFullHttpRequest blobRequest() {
        return new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/v2/library/app/blobs/" + DIGEST);
    }

    /** The body bytes of the answer whose first message is {@code head} (a full response carries them in it). */
    private static byte[] bodyOf(Object head, EmbeddedChannel client) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (Object out = head; out != null; out = client.readOutbound()) {
            ByteBuf bytes = out instanceof HttpContent content ? content.content() : out instanceof ByteBuf b ? b : null;
            if (bytes != null) {
                body.writeBytes(ByteBufUtil.getBytes(bytes));
            }
            io.netty.util.ReferenceCountUtil.release(out);
        }
        return body.toByteArray();
    }

    /** A download that has failed ({@code failure} not null) or goes on without bytes yet. */
    private static final class StubBlob implements GrowingBlob {
        private final Throwable failure;

        StubBlob(Throwable failure) {
            this.failure = failure;
        }

        @Override
        public Digest digest() {
            return DIGEST;
        }

        @Override
        public long readable() {
            return 0;
        }

        @Override
        public long available() {
            return 0;
        }

        @Override
        public int copyHeld(long offset, ByteBuffer into) {
            return 0;
        }

        @Override
        public boolean lendsHeld() {
            return false;
        }

        @Override
        public Lent lendHeld(long offset, int max) {
            return null;
        }

        @Override
        public boolean holds(long offset) {
            return false;
        }

        @Override
        public void readerAt(long offset) {
        }

        @Override
        public Throwable failure() {
            return failure;
        }

        @Override
        public void addListener(Runnable listener) {
        }

        @Override
        public void removeListener(Runnable listener) {
        }
    }
}
