package dev.pullthrough.upstream.auth;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Where an upstream's credentials come from: fixed, a file, or a credential helper. Asynchronous,
 * because getting them may mean running a process or reading a file: never on an event loop.
 */
public interface CredentialSource {
    /** Whether this source gives credentials at all (an anonymous upstream's does not). */
    boolean configured();

    /** The credentials to send now; fails with a {@link CredentialFailure} when none can be had. */
    CompletableFuture<Optional<Credentials>> current();

    /**
     * The upstream or its realm refused {@code refused}: the credentials to try instead. The same ones
     * when nothing newer can be had (a fixed password, or a source asked again too recently).
     */
    CompletableFuture<Optional<Credentials>> afterRefusal(Optional<Credentials> refused);

    /** The upstream or its realm accepted {@code used}: a burst of refusals, if there was one, is over. */
    default void accepted(Credentials used) {
    }

    /** Fixed credentials, or none. */
    static CredentialSource fixed(Optional<Credentials> credentials) {
        CompletableFuture<Optional<Credentials>> answer = CompletableFuture.completedFuture(credentials);
        return new CredentialSource() {
            @Override
            public boolean configured() {
                return credentials.isPresent();
            }

            @Override
            public CompletableFuture<Optional<Credentials>> current() {
                return answer;
            }

            @Override
            public CompletableFuture<Optional<Credentials>> afterRefusal(Optional<Credentials> refused) {
                return answer;
            }
        };
    }
}
