package dev.pullthrough.server;

import dev.pullthrough.oci.MediaTypes;
import dev.pullthrough.proxy.ProxyResponse;
import dev.pullthrough.registry.api.ApiError;
import dev.pullthrough.registry.api.ByteRange;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.DefaultFileRegion;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.stream.ChunkedNioFile;
import io.netty.handler.stream.ChunkedStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.util.Map;
import java.util.Optional;

/**
 * Writes a {@link ProxyResponse} to the client. Every manifest and blob response carries
 * {@code Content-Length} (never chunked), the exact media type without parameters, and no
 * {@code Content-Encoding}; {@code HEAD} gets the same headers and no body. Cached blobs go
 * zero-copy ({@code FileRegion}) without TLS, in chunked file reads with it.
 */
final class ResponseWriter {
    static final String API_VERSION = "registry/2.0";
    /** Bodies in memory larger than this are written in pieces of this size. */
    private static final int PIECE = 64 * 1024;

    private ResponseWriter() {}

    /** Writes the response; the returned future completes when its last byte was written. */
    static ChannelFuture write(ChannelHandlerContext ctx, ProxyResponse response, boolean head, Map<String, String> extra) {
        if (response instanceof ProxyResponse.Manifest m) {
            FullHttpResponse out = full(HttpResponseStatus.OK, m.bytes(), head);
            out.headers().set(HttpHeaderNames.CONTENT_TYPE, m.mediaType());
            out.headers().set("Docker-Content-Digest", m.digest().toString());
            out.headers().set(HttpHeaderNames.ETAG, "\"" + m.digest() + "\"");
            m.headers().forEach(out.headers()::set);
            return releasedWhenWritten(send(ctx, out, m.bytes(), head, extra), m);
        }
        if (response instanceof ProxyResponse.Json j) {
            FullHttpResponse out = full(HttpResponseStatus.valueOf(j.status()), j.body(), head);
            out.headers().set(HttpHeaderNames.CONTENT_TYPE, j.contentType());
            j.headers().forEach(out.headers()::set);
            return releasedWhenWritten(send(ctx, out, j.body(), head, extra), j);
        }
        if (response instanceof ProxyResponse.BlobHead b) {
            FullHttpResponse out = full(HttpResponseStatus.OK, new byte[0], true);
            blobHeaders(out.headers(), b.digest().toString(), b.size());
            return send(ctx, out, extra);
        }
        if (response instanceof ProxyResponse.BlobFile b) {
            return blobFile(ctx, b, head, extra);
        }
        if (response instanceof ProxyResponse.BlobStream b) {
            return blobStream(ctx, b, extra);
        }
        if (response instanceof ProxyResponse.BlobPassThrough b) {
            return blobPassThrough(ctx, b, head, extra);
        }
        if (response instanceof ProxyResponse.Redirect r) {
            FullHttpResponse out = full(HttpResponseStatus.TEMPORARY_REDIRECT, new byte[0], true);
            out.headers().set(HttpHeaderNames.LOCATION, r.location().toString());
            out.headers().set("Docker-Content-Digest", r.digest().toString());
            return send(ctx, out, extra);
        }
        ProxyResponse.Error e = (ProxyResponse.Error) response;
        FullHttpResponse out = error(e.error(), head);
        e.headers().forEach(out.headers()::set);
        return send(ctx, out, extra);
    }

    /** The body's share of the memory budget is held until its last byte left (or the write failed). */
    private static ChannelFuture releasedWhenWritten(ChannelFuture written, ProxyResponse response) {
        written.addListener(f -> response.release());
        return written;
    }

    static FullHttpResponse error(ApiError error, boolean head) {
        FullHttpResponse out = full(status(error), error.body(), head);
        out.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
        return out;
    }

    /**
     * docker, skopeo and containerd read the error body of a 4xx answer only; of a 5xx they print the
     * status line ("received unexpected HTTP status: 502 Bad Gateway"), so there the reason phrase
     * says what failed too (issue 27: "502 Bad Gateway: ... egress proxy ... refused CONNECT ...").
     */
    static HttpResponseStatus status(ApiError error) {
        HttpResponseStatus standard = HttpResponseStatus.valueOf(error.status());
        return error.status() < 500 ? standard
                : new HttpResponseStatus(error.status(), standard.reasonPhrase() + ": " + error.statusLineMessage());
    }

    /** A complete response; for {@code HEAD} the body is left out but its length is still announced. */
    static FullHttpResponse full(HttpResponseStatus status, byte[] body, boolean head) {
        FullHttpResponse out = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body));
        out.headers().set(HttpHeaderNames.CONTENT_LENGTH, body.length);
        out.headers().set("Docker-Distribution-API-Version", API_VERSION);
        return out;
    }

    /**
     * A response whose body is in memory. A large one goes out in pieces as the client reads them
     * (issue 26): written whole, the transport copied all of it into one direct buffer per client,
     * malloc'd outside the heap and kept by the C allocator once freed (a 30 MiB tag list sixteen
     * times took resident memory up by 150 MiB).
     */
    private static ChannelFuture send(ChannelHandlerContext ctx, FullHttpResponse out, byte[] body, boolean head,
                                      Map<String, String> extra) {
        if (head || body.length <= PIECE) {
            return send(ctx, out, extra);
        }
        extra.forEach(out.headers()::set);
        HttpResponse start = new DefaultHttpResponse(out.protocolVersion(), out.status(), out.headers());
        out.release();
        ctx.write(start);
        ctx.write(new ChunkedStream(new ByteArrayInputStream(body), PIECE));
        return ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
    }

    static ChannelFuture send(ChannelHandlerContext ctx, FullHttpResponse out, Map<String, String> extra) {
        extra.forEach(out.headers()::set);
        return ctx.writeAndFlush(out);
    }

    private static void blobHeaders(HttpHeaders headers, String digest, long size) {
        headers.set(HttpHeaderNames.CONTENT_TYPE, MediaTypes.OCTET_STREAM);
        headers.set(HttpHeaderNames.CONTENT_LENGTH, size);
        headers.set("Docker-Content-Digest", digest);
        headers.set(HttpHeaderNames.ETAG, "\"" + digest + "\"");
        headers.set(HttpHeaderNames.ACCEPT_RANGES, "bytes");
        headers.set("Docker-Distribution-API-Version", API_VERSION);
    }

    /** 200 for the whole blob, 206 with {@code Content-Range} for one part of it. */
    private static HttpResponse blobResponse(String digest, long size, Optional<ByteRange> range, Map<String, String> extra) {
        HttpResponse out = new DefaultHttpResponse(HttpVersion.HTTP_1_1,
                range.isPresent() ? HttpResponseStatus.PARTIAL_CONTENT : HttpResponseStatus.OK);
        blobHeaders(out.headers(), digest, range.map(ByteRange::length).orElse(size));
        range.ifPresent(r -> out.headers().set(HttpHeaderNames.CONTENT_RANGE, r.contentRange()));
        extra.forEach(out.headers()::set);
        return out;
    }

    private static ChannelFuture blobFile(ChannelHandlerContext ctx, ProxyResponse.BlobFile b, boolean head,
                                          Map<String, String> extra) {
        ChannelFuture done = writeBlobFile(ctx, b, head, extra);
        done.addListener(f -> b.done().run());
        return done;
    }

    /**
     * A blob straight from the upstream. Without a declared length (a chunked upstream body the
     * cache did not take) the client gets it chunked too: the only blob response without a
     * {@code Content-Length}, and a short one is still never complete (no last chunk).
     */
    private static ChannelFuture blobPassThrough(ChannelHandlerContext ctx, ProxyResponse.BlobPassThrough b, boolean head,
                                                 Map<String, String> extra) {
        HttpResponse out = blobResponse(b.digest().toString(), Math.max(0, b.size()), Optional.empty(), extra);
        if (b.size() < 0) {
            out.headers().remove(HttpHeaderNames.CONTENT_LENGTH);
            HttpUtil.setTransferEncodingChunked(out, true);
        }
        ctx.writeAndFlush(out);
        if (head) {
            b.body().cancel("HEAD: no body wanted");
            return ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
        }
        return PassThroughStreamer.start(ctx, b.body());
    }

    private static ChannelFuture writeBlobFile(ChannelHandlerContext ctx, ProxyResponse.BlobFile b, boolean head,
                                               Map<String, String> extra) {
        long size = b.blob().size();
        ctx.write(blobResponse(b.blob().digest().toString(), size, b.range(), extra));
        if (head) {
            closeQuietly(b.channel());
            return ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
        }
        long start = b.range().map(ByteRange::start).orElse(0L);
        long length = b.range().map(ByteRange::length).orElse(size);
        if (ctx.pipeline().get(SslHandler.class) == null) {
            ctx.write(new DefaultFileRegion(b.channel(), start, length));
        } else {
            try {
                ctx.write(new ChunkedNioFile(b.channel(), start, length, 64 * 1024));
            } catch (IOException e) {
                closeQuietly(b.channel());
                return ctx.close();
            }
        }
        return ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
    }

    private static ChannelFuture blobStream(ChannelHandlerContext ctx, ProxyResponse.BlobStream b, Map<String, String> extra) {
        ctx.write(blobResponse(b.blob().digest().toString(), b.size(), b.range(), extra));
        long start = b.range().map(ByteRange::start).orElse(0L);
        long end = b.range().map(r -> r.endInclusive() + 1).orElse(b.size());
        ctx.write(new GrowingFileInput(b.blob(), b.channel(), start, end, ctx))
                .addListener((ChannelFutureListener) f -> {
                    if (!f.isSuccess()) {
                        // A short body must never look like success: drop the connection.
                        f.channel().close();
                    }
                });
        return ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
    }

    private static void closeQuietly(java.io.Closeable channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing left to do with it
        }
    }
}
