package dev.pullthrough.app;

import dev.pullthrough.access.HtpasswdUsers;
import dev.pullthrough.access.PullerAuthenticator;
import dev.pullthrough.admin.AdminRoutes;
import dev.pullthrough.cluster.PeerApi;
import dev.pullthrough.config.ClusterConfig;
import dev.pullthrough.config.PullthroughConfig;
import dev.pullthrough.metrics.Metrics;
import dev.pullthrough.proxy.CatalogService;
import dev.pullthrough.proxy.PullApi;
import dev.pullthrough.server.ClientPolicy;
import dev.pullthrough.server.RegistryServer;
import dev.pullthrough.server.TlsContexts;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Optional;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The composition root of {@code serve}: the {@link ProxyCore} behind the registry and admin listeners. */
public final class ProxyApplication implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ProxyApplication.class);

    private final ProxyCore core;
    private final RegistryServer server;
    private final InetSocketAddress registryAddress;
    /** Guarded by this: a second close (the shutdown hook after a drain) waits for the first, then does nothing. */
    private boolean closed;

    private ProxyApplication(ProxyCore core, RegistryServer server, InetSocketAddress registryAddress) {
        this.core = core;
        this.server = server;
        this.registryAddress = registryAddress;
    }

    /** Writes to the shared bucket still under way (storage.s3; 0 without it). */
    public long pendingBucketWrites() {
        return core.pendingBucketWrites();
    }

    public static ProxyApplication start(PullthroughConfig config) throws StartupException {
        PullerAuthenticator pullers = new PullerAuthenticator(config.auth().htpasswd().map(HtpasswdUsers::load));
        TlsContexts.ServerTls tls = TlsContexts.forServer(config.server().tls());
        ProxyCore core = ProxyCore.open(config);
        // Direct memory of both: the server's allocator and the pool upstream reads land in.
        core.metrics.nettyMemory(() -> Math.max(0, RegistryServer.nettyDirectMemory()) + core.upstreamLoops.directMemory(),
                RegistryServer::nettyHeapMemory);
        PullApi api = new PullApi(core.router, core.manifests, core.blobs, core.listings,
                new CatalogService(core.metadata, core.router.defaultUpstreamName()), core.blocking, core.metrics, pullers,
                core.pulls, core.redirects());
        AdminRoutes admin = new AdminRoutes(core.metrics, core.storage.paths.tmpDir(), core.prefetcher, core.cacheAdmin,
                core.statusReport(), core::clusterDegradation, core.prefetching);
        PeerApi peers = new PeerApi(config.cluster().map(ClusterConfig::secret), core.router, core.blobs, core.blocking);
        RegistryServer server = new RegistryServer();
        ClientPolicy adminClients = new ClientPolicy(Optional.of(config.admin().allowCidrs()));
        InetSocketAddress registryAddress;
        try {
            boolean sharedPort = config.admin().port() == config.server().port();
            registryAddress = server.bindRegistry(config.server().host(), config.server().port(), tls, api,
                    sharedPort ? Optional.of(admin) : Optional.empty(), peers, core.metrics, core.blocking,
                    new ClientPolicy(config.auth().allowCidrs()), adminClients, config.jsonAccessLog(),
                    config.server().maxConnectionsPerClient(), config.server().headerTimeout());
            if (!sharedPort) {
                // htpasswd users apply on the admin port too (the Docker daemon never sends credentials: keep it private).
                server.bindAdmin(config.server().host(), config.admin().port(), admin, peers, core.metrics, core.blocking, adminClients,
                        pullers::allows, config.server().maxConnectionsPerClient(), config.server().headerTimeout());
            }
        } catch (Exception e) {
            server.close();
            core.close();
            throw new StartupException("cannot listen on " + config.server().host() + ":" + config.server().port()
                    + " / admin " + config.admin().port() + ": " + e.getMessage()
                    + " (set server.port / admin.port to free ports)", e);
        }
        core.startHousekeeping();
        core.startKeepWarm();
        core.startUpstreamChecks();
        LOG.info("pullthrough serving {} upstream(s): {}; default {}; data in {}", config.upstreams().size(),
                config.upstreams().stream().map(u -> u.name() + "=" + u.url() + (u.egress().isDirect() ? "" : " " + u.egress())).collect(Collectors.joining(", ")),
                config.defaultUpstream().name(), config.storage().path().toAbsolutePath());
        return new ProxyApplication(core, server, registryAddress);
    }

    /** The port the registry listener bound: the configured one, or the one the system chose for port 0. */
    public int registryPort() {
        return registryAddress.getPort();
    }

    public Metrics metrics() {
        return core.metrics;
    }

    /** The first step of a graceful stop: /readyz answers 503 and responses close their connections; quick, any thread. */
    public void startDraining() {
        server.startDraining();
    }

    /**
     * The stop on SIGTERM (issue 30): drains ({@link GracefulStop}: server.drainDelay, then what is in
     * flight until server.drainTimeout, or until a second signal), then closes as {@link #close} does.
     */
    public void drainAndClose(StopRequests stop) {
        new GracefulStop(server, core, core.config.server().drainDelay(), core.config.server().drainTimeout()).run(stop);
        // The drain gave downloads their time already; after a cut nothing more is waited for.
        close(Duration.ZERO);
    }

    /** Stops accepting, lets responses finish briefly, then closes the core (RocksDB last). Once: a later call does nothing. */
    @Override
    public void close() {
        close(ProxyCore.DOWNLOAD_DRAIN);
    }

    private synchronized void close(Duration downloadDrain) {
        if (closed) {
            return;
        }
        closed = true;
        server.close();
        core.close(downloadDrain);
        LOG.info("pullthrough stopped");
    }
}
