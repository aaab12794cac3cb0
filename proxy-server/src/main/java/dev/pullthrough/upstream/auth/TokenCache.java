package dev.pullthrough.upstream.auth;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import java.time.Duration;
import java.util.Optional;

/** Bearer tokens per (upstream, scope), kept until shortly before their {@code expires_in}. */
public final class TokenCache {
    /** Tokens are dropped this long before they expire, so a request never leaves with a dying one. */
    private static final Duration MARGIN = Duration.ofSeconds(10);

    /** A token and how long the token server said it lives. */
    public record Token(String value, Duration lifetime) {}

    private final Cache<String, Token> tokens = Caffeine.newBuilder()
            .maximumSize(10_000)
            .expireAfter(new Expiry<String, Token>() {
                @Override
                public long expireAfterCreate(String key, Token token, long currentTime) {
                    return Math.max(0, token.lifetime().minus(MARGIN).toNanos());
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
