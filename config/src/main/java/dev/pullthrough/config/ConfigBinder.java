package dev.pullthrough.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/** Turns the merged config tree into validated records, applying the embedded defaults. */
final class ConfigBinder {
    private ConfigBinder() {}

    static final String DEFAULT_HOST = "0.0.0.0";
    static final int DEFAULT_PORT = 5000;
    static final int DEFAULT_ADMIN_PORT = 5001;
    static final Duration DEFAULT_HEADER_TIMEOUT = Duration.ofSeconds(10);
    static final int DEFAULT_CONNECTIONS_PER_CLIENT = 256;
    /** The admin endpoints answer this machine only, unless told otherwise. */
    static final List<String> DEFAULT_ADMIN_CIDRS = List.of("127.0.0.0/8", "::1/128");
    static final String DEFAULT_STORAGE_PATH = "./data";
    static final String DEFAULT_MAX_SIZE = "50GiB";
    /** Beyond this, the re-hash after a crash (and the writeback owed at once) would grow without need. */
    static final Duration MAX_SYNC_INTERVAL = Duration.ofMinutes(1);
    static final Duration DEFAULT_WARM_INTERVAL = Duration.ofHours(1);
    static final String DEFAULT_S3_REGION = "us-east-1";
    static final String DEFAULT_TAG_TTL = "5m";
    static final String DEFAULT_MAX_STALE = "7d";
    /** The reference registry's limit. */
    static final long DEFAULT_MAX_MANIFEST = 4L << 20;
    static final String DOCKER_HUB_NAME = "docker.io";
    static final String DOCKER_HUB_URL = "https://registry-1.docker.io";
    /** A DNS name or IPv4 address, or an IPv6 address in brackets as URLs spell it. */
    private static final Pattern AUTH_HOST = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\\[[0-9A-Fa-f:.]+]");
    private static final Pattern UPSTREAM_NAME = Pattern.compile("[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?");

    static void addDefaultUpstream(ArrayNode list) {
        ObjectNode hub = list.addObject();
        hub.put("name", DOCKER_HUB_NAME);
        hub.put("url", DOCKER_HUB_URL);
        hub.put("default", "true");
    }

    static PullthroughConfig bind(ObjectNode root) {
        return bind(root, java.util.Map.of());
    }

    /** {@code env}: the process environment, for the proxy variables ({@code HTTPS_PROXY}, {@code NO_PROXY}). */
    static PullthroughConfig bind(ObjectNode root, java.util.Map<String, String> env) {
        ObjectNode server = object(root, "server");
        ObjectNode storage = object(root, "storage");
        ObjectNode auth = object(root, "auth");
        ServerConfig serverConfig = new ServerConfig(
                text(server, "server.host", "host").orElse(DEFAULT_HOST),
                port(server, "server.port", "port", DEFAULT_PORT),
                tls(server),
                positive(server, "server", "headerTimeout", DEFAULT_HEADER_TIMEOUT),
                connectionsPerClient(server),
                drainDelay(server),
                drainTimeout(server));
        ObjectNode adminNode = object(root, "admin");
        AdminConfig admin = new AdminConfig(port(adminNode, "admin.port", "port", DEFAULT_ADMIN_PORT),
                cidrs("admin.allowCidrs", list(adminNode, "admin.allowCidrs", "allowCidrs").orElse(DEFAULT_ADMIN_CIDRS)),
                upstreamCheckInterval(adminNode));
        StorageConfig storageConfig = new StorageConfig(
                Path.of(text(storage, "storage.path", "path").orElse(DEFAULT_STORAGE_PATH)),
                Sizes.parse("storage.maxSize", text(storage, "storage.maxSize", "maxSize").orElse(DEFAULT_MAX_SIZE)),
                s3(storage),
                syncInterval(storage),
                bool(storage, "storage.directWrites", "directWrites", true));
        AuthConfig authConfig = new AuthConfig(
                text(auth, "auth.htpasswd", "htpasswd").map(Path::of),
                list(auth, "auth.allowCidrs", "allowCidrs").map(texts -> cidrs("auth.allowCidrs", texts)));
        ObjectNode warm = object(root, "warm");
        WarmConfig warmConfig = new WarmConfig(positive(warm, "warm", "interval", DEFAULT_WARM_INTERVAL),
                list(warm, "warm.images", "images").orElse(List.of()));
        return new PullthroughConfig(serverConfig, admin, storageConfig,
                bool(root, "offline", "offline", false), jsonLog(object(root, "log")), authConfig, upstreams(root, env), warmConfig,
                cluster(root, storageConfig));
    }

    private static boolean jsonLog(ObjectNode log) {
        String format = text(log, "log.format", "format").orElse("text");
        if (!format.equals("text") && !format.equals("json")) {
            throw new ConfigException("log.format", "'" + format + "' is not a log format", "use text or json");
        }
        return format.equals("json");
    }

    private static List<CidrBlock> cidrs(String key, List<String> texts) {
        List<CidrBlock> blocks = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            blocks.add(CidrBlock.parse(key + "[" + i + "]", texts.get(i)));
        }
        return blocks;
    }

    private static Optional<TlsConfig> tls(ObjectNode server) {
        JsonNode node = server.get("tls");
        if (node == null || node.isNull()) {
            return Optional.empty();
        }
        ObjectNode tls = (ObjectNode) node;
        Path cert = text(tls, "server.tls.certFile", "certFile").map(Path::of).orElseThrow(() ->
                new ConfigException("server.tls.certFile", "is missing", "give the PEM certificate file, or remove server.tls"));
        Path key = text(tls, "server.tls.keyFile", "keyFile").map(Path::of).orElseThrow(() ->
                new ConfigException("server.tls.keyFile", "is missing", "give the PEM private key file, or remove server.tls"));
        return Optional.of(new TlsConfig(cert, key, text(tls, "server.tls.clientCaFile", "clientCaFile").map(Path::of)));
    }

    private static List<UpstreamConfig> upstreams(ObjectNode root, java.util.Map<String, String> env) {
        JsonNode node = root.get("upstreams");
        if (node == null || node.isNull()) {
            ArrayNode list = JsonNodeFactory.instance.arrayNode();
            addDefaultUpstream(list);
            node = list;
        }
        if (node.size() == 0) {
            throw new ConfigException("upstreams", "is empty", "name at least one upstream registry, or remove the key for Docker Hub");
        }
        List<UpstreamConfig> upstreams = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < node.size(); i++) {
            UpstreamConfig upstream = upstream((ObjectNode) node.get(i), "upstreams[" + i + "]", node.size() == 1, env);
            if (!names.add(upstream.name())) {
                throw new ConfigException("upstreams[" + i + "].name", "'" + upstream.name() + "' is used twice",
                        "give every upstream its own name");
            }
            upstreams.add(upstream);
        }
        checkFallbacks(upstreams, names);
        long defaults = upstreams.stream().filter(UpstreamConfig::isDefault).count();
        if (defaults != 1) {
            throw new ConfigException("upstreams", (defaults == 0 ? "none" : defaults) + " of them are marked default",
                    "mark exactly one upstream with 'default: true'");
        }
        return upstreams;
    }

    /**
     * {@code fallback} names other configured upstreams, each once and not the upstream itself; only
     * one level is followed (a fallback's own fallbacks are not asked), so no cycle can form (issue 27).
     */
    private static void checkFallbacks(List<UpstreamConfig> upstreams, Set<String> names) {
        for (int i = 0; i < upstreams.size(); i++) {
            UpstreamConfig upstream = upstreams.get(i);
            Set<String> seen = new HashSet<>();
            for (int j = 0; j < upstream.fallback().size(); j++) {
                String key = "upstreams[" + i + "].fallback[" + j + "]";
                String fallback = upstream.fallback().get(j);
                if (fallback.equals(upstream.name())) {
                    throw new ConfigException(key, "'" + fallback + "' is this upstream itself",
                            "name other upstreams only, or remove it");
                }
                if (!names.contains(fallback)) {
                    throw new ConfigException(key, "'" + fallback + "' is not a configured upstream",
                            "use the name of an entry of upstreams (one of " + String.join(", ", names.stream().sorted().toList())
                                    + "), or add that upstream");
                }
                if (!seen.add(fallback)) {
                    throw new ConfigException(key, "'" + fallback + "' is named twice", "name each fallback once");
                }
            }
        }
    }

    private static UpstreamConfig upstream(ObjectNode node, String path, boolean only, java.util.Map<String, String> env) {
        URI url = url(path + ".url", text(node, path + ".url", "url").orElseThrow(() ->
                new ConfigException(path + ".url", "is missing", "give the registry's base URL, e.g. https://ghcr.io")));
        String name = text(node, path + ".name", "name").orElse(url.getPort() < 0 ? url.getHost() : url.getHost() + ":" + url.getPort());
        if (!UPSTREAM_NAME.matcher(name).matches()) {
            throw new ConfigException(path + ".name", "'" + name + "' is not a valid upstream name",
                    "use a lowercase host-like name such as docker.io or ghcr.io");
        }
        Duration tagTtl = Durations.parse(path + ".tagTtl", text(node, path + ".tagTtl", "tagTtl").orElse(DEFAULT_TAG_TTL));
        Duration maxStale = Durations.parse(path + ".maxStale", text(node, path + ".maxStale", "maxStale").orElse(DEFAULT_MAX_STALE));
        return new UpstreamConfig(name, url, bool(node, path + ".default", "default", only), tagTtl, maxStale,
                text(node, path + ".username", "username"), password(node, path),
                authHosts(path + ".authHosts", list(node, path + ".authHosts", "authHosts").orElse(List.of())),
                list(node, path + ".allow", "allow").orElse(List.of()),
                timeouts(node, path),
                text(node, path + ".caFile", "caFile").map(file -> caFile(path + ".caFile", file)),
                text(node, path + ".maxManifestSize", "maxManifestSize")
                        .map(t -> manifestLimit(path + ".maxManifestSize", t)).orElse(DEFAULT_MAX_MANIFEST),
                egress(node, path, env), credentials(node, path),
                list(node, path + ".fallback", "fallback").orElse(List.of()),
                bool(node, path + ".refreshAhead", "refreshAhead", true));
    }

    /**
     * {@code proxy} (its password inline, or from {@code proxyPassword}, {@code proxyPasswordFile} or
     * {@code PULLTHROUGH_UPSTREAMS_<i>_PROXYPASSWORD}, like other secrets); without it, the proxy variables.
     */
    private static Egress egress(ObjectNode node, String path, java.util.Map<String, String> env) {
        Optional<String> password = secret(node, path, "proxyPassword");
        Optional<String> url = text(node, path + ".proxy", "proxy");
        if (url.isEmpty()) {
            if (password.isPresent()) {
                throw new ConfigException(path + ".proxyPassword", "is set without " + path + ".proxy",
                        "give the proxy, e.g. proxy: http://user@egress.internal:3128, or remove the password");
            }
            return Egress.fromEnvironment(env);
        }
        EgressProxy proxy = EgressProxy.parse(path + ".proxy", url.get());
        if (password.isPresent()) {
            if (proxy.password().isPresent()) {
                throw new ConfigException(path + ".proxy", "holds a password and proxyPassword(File) gives another",
                        "keep the password in one place: http://user@host:port with proxyPasswordFile");
            }
            if (proxy.username().isEmpty()) {
                throw new ConfigException(path + ".proxy", "has no user for the password of proxyPassword(File)",
                        "name the user in the URL: http://user@egress.internal:3128");
            }
            proxy = proxy.withPassword(password.get());
        }
        return Egress.through(proxy);
    }

    /** A credential helper's name, as in {@code docker-credential-<name>}: no path, no shell. */
    private static final Pattern HELPER_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");

    /**
     * {@code passwordFile} (kept to be read again) or {@code credentialHelper}: the helper gives the
     * user name and the secret both, so it does not go with {@code username}/{@code password} (issue 27).
     */
    private static CredentialConfig credentials(ObjectNode node, String path) {
        Optional<String> helper = text(node, path + ".credentialHelper", "credentialHelper");
        Optional<String> passwordFile = text(node, path + ".passwordFile", "passwordFile");
        Duration ttl = positive(node, path, "credentialTtl", CredentialConfig.DEFAULT_TTL);
        if (helper.isPresent()) {
            for (String key : List.of("username", "password", "passwordFile")) {
                if (text(node, path + "." + key, key).isPresent()) {
                    throw new ConfigException(path + ".credentialHelper", "is set together with " + key,
                            "keep only one: the helper answers with the user name and the secret, or remove credentialHelper");
                }
            }
            if (!HELPER_NAME.matcher(helper.get()).matches()) {
                throw new ConfigException(path + ".credentialHelper", "'" + helper.get() + "' is not a helper name",
                        "give the part after docker-credential-, e.g. ecr-login for docker-credential-ecr-login on the PATH");
            }
        }
        return new CredentialConfig(passwordFile.map(Path::of), helper, ttl);
    }

    /**
     * Token-realm hosts trusted with an upstream's credentials are host names (or IP addresses), matched
     * exactly: a URL or a port here would silently match nothing (issue 26).
     */
    private static List<String> authHosts(String path, List<String> hosts) {
        for (int i = 0; i < hosts.size(); i++) {
            String host = hosts.get(i);
            if (!AUTH_HOST.matcher(host).matches()) {
                throw new ConfigException(path + "[" + i + "]", "'" + host + "' is not a host name",
                        "give the token realm's host alone, without scheme, port or path, e.g. auth.example.com");
            }
        }
        return hosts;
    }

    private static int connectionsPerClient(ObjectNode server) {
        Optional<String> text = text(server, "server.maxConnectionsPerClient", "maxConnectionsPerClient");
        if (text.isEmpty()) {
            return DEFAULT_CONNECTIONS_PER_CLIENT;
        }
        try {
            int n = Integer.parseInt(text.get().trim());
            if (n >= 1) {
                return n;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new ConfigException("server.maxConnectionsPerClient", "'" + text.get() + "' is not a positive whole number",
                "use e.g. " + DEFAULT_CONNECTIONS_PER_CLIENT);
    }

    private static long manifestLimit(String key, String text) {
        long size = Sizes.parse(key, text);
        if (size < 1024 || size > (1L << 30)) {
            throw new ConfigException(key, "'" + text + "' is out of range", "use a size from 1KiB to 1GiB, e.g. 4MiB");
        }
        return size;
    }

    /** A PEM file of at least one X.509 certificate, read now so a mistake stops the start, naming the key. */
    private static Path caFile(String key, String file) {
        Path path = Path.of(file);
        try (java.io.InputStream in = Files.newInputStream(path)) {
            if (CertificateFactory.getInstance("X.509").generateCertificates(in).isEmpty()) {
                throw new ConfigException(key, "'" + file + "' holds no certificate", "give the CA certificate(s) in PEM");
            }
        } catch (IOException e) {
            throw new ConfigException(key, "cannot read '" + file + "' (" + e.getMessage() + ")", "give a readable PEM file");
        } catch (CertificateException e) {
            throw new ConfigException(key, "'" + file + "' is not a PEM certificate file (" + e.getMessage() + ")",
                    "give the CA certificate(s) in PEM, as openssl writes them");
        }
        return path;
    }

    private static UpstreamTimeouts timeouts(ObjectNode node, String path) {
        UpstreamTimeouts d = UpstreamTimeouts.DEFAULTS;
        return new UpstreamTimeouts(
                positive(node, path, "connectTimeout", d.connect()),
                positive(node, path, "responseTimeout", d.response()),
                positive(node, path, "manifestTimeout", d.manifest()),
                text(node, path + ".blobMinRate", "blobMinRate")
                        .map(t -> Sizes.parse(path + ".blobMinRate", t)).orElse(d.blobMinRate()),
                positive(node, path, "blobRateWindow", d.blobRateWindow()));
    }

    /** Each check costs an upstream a token request or two: not more often than this. */
    static final Duration MIN_UPSTREAM_CHECK_INTERVAL = Duration.ofSeconds(30);

    /** {@code admin.upstreamCheckInterval}: 0s turns the background checks off; else at least 30s. */
    private static Duration upstreamCheckInterval(ObjectNode admin) {
        Optional<String> text = text(admin, "admin.upstreamCheckInterval", "upstreamCheckInterval");
        if (text.isEmpty()) {
            return AdminConfig.DEFAULT_UPSTREAM_CHECK_INTERVAL;
        }
        Duration value = Durations.parse("admin.upstreamCheckInterval", text.get());
        if (!value.isZero() && value.compareTo(MIN_UPSTREAM_CHECK_INTERVAL) < 0) {
            throw new ConfigException("admin.upstreamCheckInterval", "'" + text.get() + "' is too often: every check asks each"
                    + " upstream for a token", "use 0s (no background checks) or at least 30s, e.g. 5m (the default)");
        }
        return value;
    }

    /** 0s is allowed: nothing routes here any more (a test, a single node without a load balancer); a sign never parses. */
    private static Duration drainDelay(ObjectNode server) {
        return text(server, "server.drainDelay", "drainDelay").map(text -> Durations.parse("server.drainDelay", text))
                .orElse(ServerConfig.DEFAULT_DRAIN_DELAY);
    }

    /** Counted from the signal, so it is the one figure to keep below the orchestrator's grace period. */
    private static Duration drainTimeout(ObjectNode server) {
        Duration timeout = positive(server, "server", "drainTimeout", ServerConfig.DEFAULT_DRAIN_TIMEOUT);
        Duration delay = drainDelay(server);
        if (timeout.compareTo(delay) <= 0) {
            throw new ConfigException("server.drainTimeout", Durations.format(timeout) + " leaves no time to finish responses"
                    + " after server.drainDelay (" + Durations.format(delay) + "): both count from SIGTERM",
                    "make drainTimeout longer than drainDelay, e.g. drainDelay 5s and drainTimeout 30s (the defaults)");
        }
        return timeout;
    }

    private static Duration syncInterval(ObjectNode storage) {
        Optional<String> text = text(storage, "storage.syncInterval", "syncInterval");
        if (text.isEmpty()) {
            return StorageConfig.DEFAULT_SYNC_INTERVAL;
        }
        Duration value = Durations.parse("storage.syncInterval", text.get());
        if (value.isNegative() || value.compareTo(MAX_SYNC_INTERVAL) > 0) {
            throw new ConfigException("storage.syncInterval", "'" + text.get() + "' is out of range: a start after a crash"
                    + " re-hashes what was committed within it", "use 0s (sync each blob) up to 1m, e.g. 5s (the default)");
        }
        return value;
    }

    private static Duration positive(ObjectNode node, String path, String key, Duration fallback) {
        Optional<String> text = text(node, path + "." + key, key);
        if (text.isEmpty()) {
            return fallback;
        }
        Duration value = Durations.parse(path + "." + key, text.get());
        if (value.isZero() || value.isNegative()) {
            throw new ConfigException(path + "." + key, "must be longer than 0", "use e.g. " + fallback.toSeconds() + "s");
        }
        return value;
    }

    private static Optional<String> password(ObjectNode node, String path) {
        return secret(node, path, "password");
    }

    /** A secret given inline ({@code key}) or in a file ({@code key + "File"}), never both. */
    private static Optional<String> secret(ObjectNode node, String path, String key) {
        Optional<String> inline = text(node, path + "." + key, key);
        Optional<String> file = text(node, path + "." + key + "File", key + "File");
        if (inline.isPresent() && file.isPresent()) {
            throw new ConfigException(path + "." + key, "is set together with " + key + "File", "keep only one of them");
        }
        if (file.isEmpty()) {
            return inline;
        }
        try {
            return Optional.of(Files.readString(Path.of(file.get())).strip());
        } catch (IOException e) {
            throw new ConfigException(path + "." + key + "File", "cannot read " + file.get() + " (" + e.getMessage() + ")",
                    "give a readable file holding only the " + key);
        }
    }

    /** {@code cluster}: absent means a replica on its own. */
    private static Optional<ClusterConfig> cluster(ObjectNode root, StorageConfig storage) {
        if (!(root.get("cluster") instanceof ObjectNode cluster)) {
            if (storage.s3().flatMap(S3Config::retention).isPresent()) {
                // One replica at a time runs the retention pass, under a lease in Redis, and uses are recorded there.
                throw new ConfigException("storage.s3.retention", "needs cluster: the replicas record what they use in Redis"
                        + " and take turns at the pass with a lease there", "add cluster (redis, advertise, secretFile),"
                        + " or remove storage.s3.retention");
            }
            return Optional.empty();
        }
        if (storage.s3().isEmpty()) {
            throw new ConfigException("cluster", "needs storage.s3", "give the replicas a shared bucket (storage.s3), or remove cluster");
        }
        String redisText = text(cluster, "cluster.redis", "redis").orElseThrow(() -> new ConfigException("cluster.redis",
                "is missing", "give the Redis server, e.g. redis://10.0.0.2:6379 (rediss:// for TLS)"));
        URI redis;
        try {
            redis = new URI(redisText);
        } catch (java.net.URISyntaxException e) {
            redis = null;
        }
        if (redis == null || !("redis".equals(redis.getScheme()) || "rediss".equals(redis.getScheme())) || redis.getHost() == null) {
            throw new ConfigException("cluster.redis", "'" + redisText + "' is not a redis:// or rediss:// URL with a host",
                    "use e.g. redis://10.0.0.2:6379");
        }
        URI advertise = url("cluster.advertise", text(cluster, "cluster.advertise", "advertise").orElseThrow(() ->
                new ConfigException("cluster.advertise", "is missing", "say how the other replicas reach this one, e.g. http://10.0.0.5:5001")));
        String secretFile = text(cluster, "cluster.secretFile", "secretFile").orElseThrow(() -> new ConfigException(
                "cluster.secretFile", "is missing", "give a file with the secret every replica shares (e.g. /run/secrets/cluster)"));
        String secret;
        try {
            secret = Files.readString(Path.of(secretFile)).strip();
        } catch (IOException e) {
            throw new ConfigException("cluster.secretFile", "cannot read " + secretFile + " (" + e.getMessage() + ")",
                    "give a readable file holding only the shared secret");
        }
        if (secret.length() < 16) {
            throw new ConfigException("cluster.secretFile", "holds a secret of " + secret.length() + " characters",
                    "use at least 16 random characters, e.g. openssl rand -hex 32");
        }
        Optional<String> password = text(cluster, "cluster.passwordFile", "passwordFile").map(file -> {
            try {
                return Files.readString(Path.of(file)).strip();
            } catch (IOException e) {
                throw new ConfigException("cluster.passwordFile", "cannot read " + file + " (" + e.getMessage() + ")",
                        "give a readable file holding only the Redis password");
            }
        });
        return Optional.of(new ClusterConfig(redis, password, advertise, Path.of(secretFile), secret));
    }

    /** {@code storage.s3}: absent means local disk only. */
    private static Optional<S3Config> s3(ObjectNode storage) {
        if (!(storage.get("s3") instanceof ObjectNode s3)) {
            return Optional.empty();
        }
        String path = "storage.s3";
        String bucket = text(s3, path + ".bucket", "bucket").orElseThrow(() -> new ConfigException(path + ".bucket",
                "is missing", "name the bucket the replicas share, e.g. bucket: pullthrough"));
        Optional<URI> endpoint = text(s3, path + ".endpoint", "endpoint").map(text -> url(path + ".endpoint", text));
        Optional<String> accessKey = text(s3, path + ".accessKey", "accessKey");
        Optional<String> secretKey = secret(s3, path, "secretKey");
        if (accessKey.isPresent() != secretKey.isPresent()) {
            throw new ConfigException(path + (accessKey.isPresent() ? ".secretKey" : ".accessKey"), "is missing",
                    "give accessKey with secretKey (or secretKeyFile, or PULLTHROUGH_STORAGE_S3_SECRETKEY), or neither"
                            + " for the SDK's default credentials");
        }
        String prefix = text(s3, path + ".prefix", "prefix").orElse("");
        if (!prefix.isEmpty() && !prefix.endsWith("/")) {
            throw new ConfigException(path + ".prefix", "'" + prefix + "' does not end with /", "write it as a folder, e.g. cache/");
        }
        return Optional.of(new S3Config(bucket, endpoint, text(s3, path + ".region", "region").orElse(DEFAULT_S3_REGION),
                bool(s3, path + ".pathStyle", "pathStyle", false), accessKey, secretKey, prefix,
                bool(s3, path + ".redirect", "redirect", false), retention(s3, path)));
    }

    /** {@code storage.s3.retention}: absent means the bucket keeps everything; else at least a day. */
    private static Optional<Duration> retention(ObjectNode s3, String path) {
        Optional<String> text = text(s3, path + ".retention", "retention");
        if (text.isEmpty()) {
            return Optional.empty();
        }
        Duration value = Durations.parse(path + ".retention", text.get());
        if (value.compareTo(S3Config.MIN_RETENTION) < 0) {
            throw new ConfigException(path + ".retention", "'" + text.get() + "' is too short: replicas record an object's use"
                    + " at most once an hour", "use at least 1d, e.g. 30d, or remove it to keep everything");
        }
        return Optional.of(value);
    }

    private static URI url(String key, String text) {
        URI url;
        try {
            url = new URI(text.endsWith("/") ? text.substring(0, text.length() - 1) : text);
        } catch (URISyntaxException e) {
            throw new ConfigException(key, "'" + text + "' is not a URL", "use e.g. https://registry-1.docker.io");
        }
        if (!"http".equals(url.getScheme()) && !"https".equals(url.getScheme()) || url.getHost() == null) {
            throw new ConfigException(key, "'" + text + "' is not an http(s) URL with a host", "use e.g. https://registry-1.docker.io");
        }
        if (url.getRawPath() != null && !url.getRawPath().isEmpty() || url.getRawQuery() != null) {
            throw new ConfigException(key, "'" + text + "' has a path or query", "give only scheme, host and port; /v2/ is added by the proxy");
        }
        return url;
    }

    private static ObjectNode object(ObjectNode parent, String key) {
        JsonNode node = parent.get(key);
        return node instanceof ObjectNode ? (ObjectNode) node : JsonNodeFactory.instance.objectNode();
    }

    private static Optional<String> text(ObjectNode parent, String path, String key) {
        JsonNode node = parent.get(key);
        if (node == null || node.isNull()) {
            return Optional.empty();
        }
        String text = node.asText();
        if (text.isBlank()) {
            throw new ConfigException(path, "is empty", "give a value or remove the key");
        }
        return Optional.of(text.trim());
    }

    private static int port(ObjectNode parent, String path, String key, int defaultPort) {
        Optional<String> text = text(parent, path, key);
        if (text.isEmpty()) {
            return defaultPort;
        }
        try {
            int port = Integer.parseInt(text.get());
            if (port >= 0 && port <= 65535) {
                return port;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new ConfigException(path, "'" + text.get() + "' is not a port", "use a number from 1 to 65535, e.g. " + defaultPort);
    }

    private static boolean bool(ObjectNode parent, String path, String key, boolean defaultValue) {
        Optional<String> text = text(parent, path, key);
        if (text.isEmpty()) {
            return defaultValue;
        }
        switch (text.get().toLowerCase()) {
            case "true": return true;
            case "false": return false;
            default: throw new ConfigException(path, "'" + text.get() + "' is not a boolean", "use true or false");
        }
    }

    private static Optional<List<String>> list(ObjectNode parent, String path, String key) {
        JsonNode node = parent.get(key);
        if (node == null || node.isNull()) {
            return Optional.empty();
        }
        List<String> items = new ArrayList<>();
        for (JsonNode item : node) {
            if (!item.isValueNode() || item.asText().isBlank()) {
                throw new ConfigException(path, "holds an empty or nested item", "list plain strings, e.g. [\"library/*\"]");
            }
            items.add(item.asText().trim());
        }
        return Optional.of(items);
    }
}
