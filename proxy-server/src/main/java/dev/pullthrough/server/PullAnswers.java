package dev.pullthrough.server;

import dev.pullthrough.proxy.PullApi;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/** What answers a request of the pull API ({@link PullApi#handle}): the registry port writes its replies. */
@FunctionalInterface
interface PullAnswers {
    CompletableFuture<PullApi.Reply> handle(String method, String uri, List<String> accept, Optional<String> range,
                                            Optional<String> authorization);
}
