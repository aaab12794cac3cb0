package dev.pullthrough.cluster;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.InvalidDigestException;
import dev.pullthrough.oci.InvalidNameException;
import dev.pullthrough.oci.RepositoryName;
import dev.pullthrough.proxy.BlobService;
import dev.pullthrough.proxy.ProxyResponse;
import dev.pullthrough.proxy.Target;
import dev.pullthrough.proxy.UpstreamRouter;
import dev.pullthrough.registry.api.ApiError;
import dev.pullthrough.registry.api.ErrorCode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * The peer endpoint, what the other replicas ask this one:
 * {@code GET /cluster/blobs/UPSTREAM/REPOSITORY/DIGEST} with {@code Authorization: Bearer SECRET}
 * (the cluster's shared secret). Answers the blob from this replica's disk or from its download in
 * flight (the growing file, as its clients get it), never by starting a download: 404 sends the
 * asking replica elsewhere. Without the secret: 401, whatever the address (replicas reach each other
 * from anywhere; the secret is the guard, not {@code admin.allowCidrs}).
 */
public final class PeerApi {
    public static final String PREFIX = "/cluster/";
    static final String BLOBS = PREFIX + "blobs/";

    private final Optional<byte[]> secret;
    private final UpstreamRouter router;
    private final BlobService blobs;
    private final Executor blocking;

    /** {@code secret} empty: no cluster, every peer path is 404. */
    public PeerApi(Optional<String> secret, UpstreamRouter router, BlobService blobs, Executor blocking) {
        this.secret = secret.map(s -> s.getBytes(StandardCharsets.UTF_8));
        this.router = router;
        this.blobs = blobs;
        this.blocking = blocking;
    }

    /** Whether {@code path} is a peer path (decided without blocking). */
    public static boolean handles(String path) {
        return path.startsWith(PREFIX);
    }

    /**
     * The upstream a peer path names, as the access log writes it; "-" when it names none, or something
     * no upstream name looks like (the path is the asker's, before its secret was checked).
     */
    public static String upstreamOf(String path) {
        if (!path.startsWith(BLOBS)) {
            return "-";
        }
        int slash = path.indexOf('/', BLOBS.length());
        String name = slash > BLOBS.length() ? path.substring(BLOBS.length(), slash) : "";
        return name.matches("[A-Za-z0-9._:-]{1,253}") ? name : "-";
    }

    /** The path another replica asks for {@code digest} of {@code repository} at {@code upstream}. */
    static String blobPath(String upstream, String repository, Digest digest) {
        return BLOBS + upstream + "/" + repository + "/" + digest;
    }

    /** The answer to a peer request; {@code authorization} its header. */
    public CompletableFuture<ProxyResponse> answer(String method, String path, Optional<String> authorization) {
        if (secret.isEmpty()) {
            return done(error(ErrorCode.NOT_FOUND, "this proxy is not part of a cluster (no cluster: section)"));
        }
        if (!authorized(authorization)) {
            return done(new ProxyResponse.Error(new ApiError(ErrorCode.UNAUTHORIZED,
                    "peer requests need the cluster's shared secret (cluster.secretFile) as a Bearer token"),
                    Map.of("WWW-Authenticate", "Bearer realm=\"pullthrough-cluster\"")));
        }
        if (!method.equals("GET")) {
            return done(error(ErrorCode.UNSUPPORTED, "peers GET blobs only"));
        }
        if (!path.startsWith(BLOBS)) {
            return done(error(ErrorCode.NOT_FOUND, "peers serve " + BLOBS + "UPSTREAM/REPOSITORY/DIGEST"));
        }
        String rest = path.substring(BLOBS.length());
        int firstSlash = rest.indexOf('/');
        int lastSlash = rest.lastIndexOf('/');
        if (firstSlash <= 0 || lastSlash <= firstSlash) {
            return done(error(ErrorCode.NAME_INVALID, "expected " + BLOBS + "UPSTREAM/REPOSITORY/DIGEST"));
        }
        Digest digest;
        RepositoryName repository;
        try {
            digest = Digest.parse(rest.substring(lastSlash + 1));
            repository = RepositoryName.parse(rest.substring(firstSlash + 1, lastSlash));
        } catch (InvalidDigestException e) {
            return done(error(ErrorCode.DIGEST_INVALID, e.getMessage()));
        } catch (InvalidNameException e) {
            return done(error(ErrorCode.NAME_INVALID, e.getMessage()));
        }
        UpstreamRouter.Result routed = router.route(repository, Optional.of(rest.substring(0, firstSlash)));
        if (routed.error().isPresent()) {
            return done(new ProxyResponse.Error(routed.error().get(), Map.of()));
        }
        Target target = routed.target().orElseThrow();
        return CompletableFuture.supplyAsync(() -> {
            try {
                return blobs.forPeer(target, digest);
            } catch (IOException e) {
                return done(error(ErrorCode.BLOB_UNKNOWN, "reading " + digest + " failed here: " + e.getMessage()));
            }
        }, blocking).thenCompose(answer -> answer);
    }

    /** Compared in constant time: the answer's timing says nothing about the secret. */
    private boolean authorized(Optional<String> authorization) {
        if (authorization.isEmpty() || !authorization.get().regionMatches(true, 0, "Bearer ", 0, 7)) {
            return false;
        }
        byte[] offered = authorization.get().substring(7).trim().getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(offered, secret.orElseThrow());
    }

    private static ProxyResponse error(ErrorCode code, String message) {
        return new ProxyResponse.Error(new ApiError(code, message), Map.of());
    }

    private static CompletableFuture<ProxyResponse> done(ProxyResponse response) {
        return CompletableFuture.completedFuture(response);
    }
}
