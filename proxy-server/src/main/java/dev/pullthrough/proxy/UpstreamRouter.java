package dev.pullthrough.proxy;

import dev.pullthrough.config.UpstreamConfig;
import dev.pullthrough.oci.InvalidNameException;
import dev.pullthrough.oci.RepositoryName;
import dev.pullthrough.registry.api.ApiError;
import dev.pullthrough.registry.api.ErrorCode;
import dev.pullthrough.upstream.Upstream;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Chooses the upstream of a request, in this order: containerd's {@code ns=<host>}, a path prefix
 * naming a configured upstream ({@code /v2/ghcr.io/org/app/...}), else the default upstream. Only
 * configured upstreams are ever used: the proxy is not an open relay.
 */
public final class UpstreamRouter {
    private final Map<String, Upstream> byName = new LinkedHashMap<>();
    /** Each upstream's allow-list, compiled once; absent when it allows every repository. */
    private final Map<String, List<Pattern>> allowLists = new HashMap<>();
    private final Upstream defaultUpstream;

    public UpstreamRouter(List<? extends Upstream> upstreams) {
        Upstream fallback = null;
        for (Upstream client : upstreams) {
            byName.put(client.config().name(), client);
            if (!client.config().allow().isEmpty()) {
                allowLists.put(client.config().name(), client.config().allow().stream().map(UpstreamRouter::glob).toList());
            }
            if (client.config().isDefault()) {
                fallback = client;
            }
        }
        this.defaultUpstream = fallback == null ? upstreams.get(0) : fallback;
    }

    /** The upstream that requests with no prefix and no {@code ns=} go to. */
    public String defaultUpstreamName() {
        return defaultUpstream.config().name();
    }

    /** The target of {@code name}, or the error the client gets. */
    public Result route(RepositoryName name, Optional<String> namespace) {
        if (namespace.isPresent()) {
            Optional<Upstream> chosen = forNamespace(namespace.get());
            if (chosen.isEmpty()) {
                return Result.fail(new ApiError(ErrorCode.NAME_UNKNOWN,
                        "no upstream is configured for registry '" + namespace.get() + "'"));
            }
            return target(chosen.get(), name, name, namespace.get(), "ns");
        }
        String value = name.value();
        int slash = value.indexOf('/');
        if (slash > 0) {
            Upstream prefixed = byName.get(value.substring(0, slash));
            if (prefixed != null) {
                return target(prefixed, RepositoryName.parse(value.substring(slash + 1)), name, null, "prefix");
            }
            String first = value.substring(0, slash);
            if (looksLikeRegistryHost(first)) {
                // As Docker reads a name: a first component with a dot or a port, or localhost, is a registry.
                return Result.fail(new ApiError(ErrorCode.NAME_UNKNOWN, "no upstream is configured for registry '" + first
                        + "'; this proxy pulls only from its configured upstreams"));
            }
        }
        return target(defaultUpstream, name, name, null, "default");
    }

    private static boolean looksLikeRegistryHost(String component) {
        return component.indexOf('.') >= 0 || component.indexOf(':') >= 0 || component.equals("localhost");
    }

    private Optional<Upstream> forNamespace(String namespace) {
        Upstream named = byName.get(namespace);
        if (named != null) {
            return Optional.of(named);
        }
        return byName.values().stream().filter(c -> c.config().host().equals(namespace)
                || namespace.equals("docker.io") && c.config().isDockerHub()).findFirst();
    }

    private Result target(Upstream client, RepositoryName name, RepositoryName clientName, String namespace,
                                 String routedBy) {
        UpstreamConfig config = client.config();
        RepositoryName repository;
        try {
            // Docker Hub: "alpine" is "library/alpine".
            repository = config.isDockerHub() && name.isSingleComponent() ? name.withPrefix("library") : name;
        } catch (InvalidNameException e) {
            return Result.fail(new ApiError(ErrorCode.NAME_INVALID, e.getMessage()));
        }
        List<Pattern> allowed = allowLists.get(config.name());
        if (allowed != null && allowed.stream().noneMatch(p -> p.matcher(repository.value()).matches())) {
            return Result.fail(new ApiError(ErrorCode.DENIED,
                    "repository " + repository + " is not allowed on upstream " + config.name()));
        }
        return Result.ok(new Target(client, repository, clientName, namespace, routedBy));
    }

    /** A glob where {@code *} spans any characters, slashes included. */
    static Pattern glob(String pattern) {
        return Pattern.compile(("\\Q" + pattern + "\\E").replace("*", "\\E.*\\Q"));
    }

    /** A target or an error, never both. */
    public record Result(Optional<Target> target, Optional<ApiError> error) {
        static Result ok(Target target) {
            return new Result(Optional.of(target), Optional.empty());
        }

        static Result fail(ApiError error) {
            return new Result(Optional.empty(), Optional.of(error));
        }
    }
}
