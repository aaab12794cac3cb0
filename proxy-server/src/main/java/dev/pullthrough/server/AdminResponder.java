package dev.pullthrough.server;

import dev.pullthrough.access.PullerAuthenticator;
import dev.pullthrough.admin.AdminRoutes;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.registry.api.ApiError;
import dev.pullthrough.registry.api.ErrorCode;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin endpoints' answers, on the admin port or on a port shared with the registry: health for
 * anyone, everything else for the addresses of {@code admin.allowCidrs} with the credentials pulls
 * need. Answered off the event loop (metrics and prefetch read the disk); a prefetch, which waits on
 * upstreams, on threads of its own rather than the workers.
 */
final class AdminResponder {
    private static final Logger LOG = LoggerFactory.getLogger(AdminResponder.class);
    private final AdminRoutes routes;
    private final Metrics metrics;
    private final Executor workers;
    private final ClientPolicy adminClients;
    /** Whether a request's credentials may use the admin endpoints: the proxy's pullers (htpasswd), when configured. */
    private final Predicate<Optional<String>> adminCredentials;
    private final ConnectionDrain drain;

    AdminResponder(AdminRoutes routes, Metrics metrics, Executor workers, ClientPolicy adminClients,
                   Predicate<Optional<String>> adminCredentials, ConnectionDrain drain) {
        this.drain = drain;
        this.routes = routes;
        this.metrics = metrics;
        this.workers = workers;
        this.adminClients = adminClients;
        this.adminCredentials = adminCredentials;
    }

    boolean handles(String path) {
        return routes.handles(path);
    }

    /** Whether a connection to an admin path stays open after the answer (POST is an admin method). */
    static boolean keepAlive(HttpRequest request, boolean keepAliveAsked) {
        HttpMethod method = request.method();
        return keepAliveAsked && (method.equals(HttpMethod.GET) || method.equals(HttpMethod.HEAD) || method.equals(HttpMethod.POST)
                || method.equals(HttpMethod.DELETE));
    }

    /**
     * The answer to an admin path; a refusal (403) completes at once and closes the connection.
     * {@code clientGone} tells a long answer (a prefetch) that the client hung up.
     */
    CompletableFuture<FullHttpResponse> answer(HttpRequest request, String path, SocketAddress client, BooleanSupplier clientGone) {
        boolean head = request.method().equals(HttpMethod.HEAD);
        if (!AdminRoutes.isHealth(path) && !adminClients.allows(client)) {
            metrics.request("denied", request.method().name(), 403);
            return CompletableFuture.completedFuture(HttpTurns.closeIf(true, ResponseWriter.error(new ApiError(ErrorCode.DENIED,
                    "this client address may not use the admin endpoints (admin.allowCidrs)"), head)));
        }
        if (path.equals("/readyz") && drain.draining()) {
            // Answered here, on the event loop: at once after SIGTERM even with every worker busy, and
            // before the disk checks, which no longer matter (issue 30).
            FullHttpResponse out = ResponseWriter.full(HttpResponseStatus.SERVICE_UNAVAILABLE,
                    "draining\n".getBytes(StandardCharsets.UTF_8), head);
            out.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain");
            return CompletableFuture.completedFuture(out);
        }
        String method = request.method().name();
        String uri = request.uri();
        Optional<String> credentials = Optional.ofNullable(request.headers().get(HttpHeaderNames.AUTHORIZATION));
        // The credentials check (a bcrypt hash) runs on a worker; a prefetch then waits on its own
        // threads, so a slow upstream holds no worker (issue 29).
        return CompletableFuture.supplyAsync(() -> AdminRoutes.isHealth(path) || adminCredentials.test(credentials), workers)
                .thenCompose(allowed -> allowed ? routes.answerLater(method, uri, clientGone, workers)
                        : CompletableFuture.completedFuture(new AdminRoutes.Answer(401, "text/plain",
                                "credentials needed\n".getBytes(StandardCharsets.UTF_8))))
                .handle((answer, failure) -> failure == null ? response(answer, head) : failed(method, path, failure, head));
    }

    private static FullHttpResponse response(AdminRoutes.Answer answer, boolean head) {
        FullHttpResponse out = ResponseWriter.full(HttpResponseStatus.valueOf(answer.status()), answer.body(), head);
        out.headers().set(HttpHeaderNames.CONTENT_TYPE, answer.contentType());
        if (answer.status() == 401) {
            out.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, PullerAuthenticator.CHALLENGE);
        }
        return out;
    }

    /** A fault of ours: the client gets an answer (never a hung connection), the log the trace. */
    private static FullHttpResponse failed(String method, String path, Throwable failure, boolean head) {
        Throwable cause = failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
                ? failure.getCause() : failure;
        LOG.error("{} {} failed", method, path, cause);
        return ResponseWriter.error(new ApiError(ErrorCode.UNKNOWN, method + " " + path + " failed: " + cause), head);
    }
}
