package dev.pullthrough.upstream.auth;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/** Bearer tokens per (upstream, scope), kept until shortly before their {@code expires_in}. */
public final class TokenCache {
    /** Tokens are dropped this long before they expire (at most a tenth of their life), so none is used dying. */
    private static final Duration MARGIN = Duration.ofSeconds(10);

    /** A token and how long the token server said it lives. */
    public record Token(String value, Duration lifetime) {}

    private final Cache<String, Token> tokens = Caffeine.newBuilder()
            .maximumSize(10_000)
            .expireAfter(new Expiry<String, Token>() {
                @Override
                public long expireAfterCreate(String key, Token token, long currentTime) {
                    Duration margin = token.lifetime().dividedBy(10).compareTo(MARGIN) < 0 ? token.lifetime().dividedBy(10) : MARGIN;
                    return Math.max(0, token.lifetime().minus(margin).toNanos());
                }

                @Override
                public long expireAfterUpdate(String key, Token token, long currentTime, long currentDuration) {
                    return expireAfterCreate(key, token, currentTime);
                }

                @Override
                public long expireAfterRead(String key, Token token, long currentTime, long currentDuration) {
                    return currentDuration;
                }
            })
            .build();

    /** Token fetches in flight, so many requests needing the same token at once cause one request. */
    private final ConcurrentHashMap<String, CompletableFuture<Optional<Token>>> fetching = new ConcurrentHashMap<>();

    /**
     * The cached token, or the one {@code fetch} gets: one fetch per (upstream, scope) at a time,
     * shared by every caller that needs it meanwhile. Failed fetches are not cached; their failure is
     * passed to every caller of that fetch.
     */
    public CompletableFuture<Optional<String>> getOrFetch(String upstream, String scope,
                                                         Supplier<CompletableFuture<Optional<Token>>> fetch) {
        Optional<String> cached = get(upstream, scope);
        if (cached.isPresent()) {
            return CompletableFuture.completedFuture(cached);
        }
        String key = upstream + " " + scope;
        CompletableFuture<Optional<Token>> mine = new CompletableFuture<>();
        CompletableFuture<Optional<Token>> running = fetching.putIfAbsent(key, mine);
        if (running != null) {
            return running.thenApply(token -> token.map(Token::value));
        }
        CompletableFuture<Optional<Token>> fetched;
        try {
            fetched = fetch.get();
        } catch (RuntimeException e) {
            fetched = CompletableFuture.failedFuture(e);
        }
        fetched.whenComplete((token, failure) -> {
            fetching.remove(key, mine);
            if (failure != null) {
                mine.completeExceptionally(failure); // why there is no token (timeout, refused realm) reaches every waiter
                return;
            }
            token.ifPresent(t -> tokens.put(key, t));
            mine.complete(token);
        });
        return mine.thenApply(token -> token.map(Token::value));
    }

    public Optional<String> get(String upstream, String scope) {
        Token token = tokens.getIfPresent(upstream + " " + scope);
        return token == null ? Optional.empty() : Optional.of(token.value());
    }

    public void put(String upstream, String scope, Token token) {
        tokens.put(upstream + " " + scope, token);
    }

    public void invalidate(String upstream, String scope) {
        tokens.invalidate(upstream + " " + scope);
    }
}
