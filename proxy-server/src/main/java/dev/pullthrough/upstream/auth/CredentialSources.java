package dev.pullthrough.upstream.auth;

import dev.pullthrough.config.CredentialConfig;
import dev.pullthrough.config.UpstreamConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executor;

/** Chooses an upstream's {@link CredentialSource} from its configuration: helper, password file, or fixed. */
public final class CredentialSources {
    /** Docker's own name for Docker Hub in credential stores, which helpers expect on stdin. */
    static final String DOCKER_HUB_SERVER = "https://index.docker.io/v1/";

    private CredentialSources() {}

    /**
     * {@code searchPath}: where {@code docker-credential-*} helpers are looked for (the PATH);
     * {@code executor}: where helpers run and files are read, never an event loop.
     */
    public static CredentialSource of(UpstreamConfig upstream, Clock clock, Executor executor, List<Path> searchPath) {
        CredentialConfig credentials = upstream.credentials();
        if (credentials.helper().isPresent()) {
            String server = upstream.isDockerHub() ? DOCKER_HUB_SERVER : upstream.host();
            // A helper that hangs is cut off like an upstream that does not answer.
            CredentialHelper helper = new CredentialHelper(credentials.helper().get(), server, searchPath,
                    upstream.timeouts().response());
            return new RotatingCredentials(helper, Optional.empty(), credentials.ttl(), clock, executor);
        }
        Optional<Credentials> initial = upstream.username().map(user -> new Credentials(user, upstream.password().orElse("")));
        if (credentials.passwordFile().isPresent() && initial.isPresent()) {
            // Read at start (by the config), again after a refusal: a rotated secret is picked up without a restart.
            return new RotatingCredentials(() -> read(upstream.username().get(), credentials.passwordFile().get()),
                    initial, Duration.ofDays(36_500), clock, executor);
        }
        return CredentialSource.fixed(initial);
    }

    private static Credentials read(String username, Path file) throws CredentialFailure {
        try {
            return new Credentials(username, Files.readString(file).strip());
        } catch (IOException e) {
            throw new CredentialFailure("upstreams[].passwordFile " + file + " cannot be read (" + e.getClass().getSimpleName() + ")");
        }
    }
}
