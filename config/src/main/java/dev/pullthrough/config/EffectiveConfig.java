package dev.pullthrough.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A loaded configuration written back as YAML in the file's own keys, defaults and environment
 * overrides included, secrets masked: what {@code check} prints. Loading the output again gives the
 * same configuration, secrets aside.
 */
public final class EffectiveConfig {
    static final String MASK = "(masked)";
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES));

    private EffectiveConfig() {}

    public static String yaml(PullthroughConfig config) {
        Map<String, Object> root = new LinkedHashMap<>();
        ServerConfig server = config.server();
        Map<String, Object> serverKeys = map("host", server.host(), "port", server.port(),
                "headerTimeout", Durations.format(server.headerTimeout()),
                "maxConnectionsPerClient", server.maxConnectionsPerClient(),
                "drainDelay", Durations.format(server.drainDelay()), "drainTimeout", Durations.format(server.drainTimeout()));
        server.tls().ifPresent(tls -> {
            Map<String, Object> tlsKeys = map("certFile", tls.certFile().toString(), "keyFile", tls.keyFile().toString());
            tls.clientCaFile().ifPresent(ca -> tlsKeys.put("clientCaFile", ca.toString()));
            serverKeys.put("tls", tlsKeys);
        });
        root.put("server", serverKeys);
        root.put("admin", map("port", config.admin().port(), "allowCidrs", strings(config.admin().allowCidrs()),
                "upstreamCheckInterval", Durations.format(config.admin().upstreamCheckInterval())));
        Map<String, Object> storage = map("path", config.storage().path().toString(), "maxSize", Sizes.format(config.storage().maxSize()));
        storage.put("syncInterval", Durations.format(config.storage().syncInterval()));
        storage.put("directWrites", config.storage().directWrites());
        config.storage().s3().ifPresent(s3 -> {
            Map<String, Object> keys = map("bucket", s3.bucket());
            s3.endpoint().ifPresent(endpoint -> keys.put("endpoint", endpoint.toString()));
            keys.put("region", s3.region());
            keys.put("pathStyle", s3.pathStyle());
            s3.accessKey().ifPresent(key -> keys.put("accessKey", key));
            s3.secretKey().ifPresent(secret -> keys.put("secretKey", MASK));
            if (!s3.prefix().isEmpty()) {
                keys.put("prefix", s3.prefix());
            }
            keys.put("redirect", s3.redirect());
            s3.retention().ifPresent(retention -> keys.put("retention", Durations.format(retention)));
            storage.put("s3", keys);
        });
        root.put("storage", storage);
        root.put("offline", config.offline());
        root.put("log", map("format", config.jsonAccessLog() ? "json" : "text"));
        Map<String, Object> auth = new LinkedHashMap<>();
        config.auth().htpasswd().ifPresent(file -> auth.put("htpasswd", file.toString()));
        config.auth().allowCidrs().ifPresent(cidrs -> auth.put("allowCidrs", strings(cidrs)));
        if (!auth.isEmpty()) {
            root.put("auth", auth);
        }
        root.put("upstreams", config.upstreams().stream().map(EffectiveConfig::upstream).toList());
        config.cluster().ifPresent(cluster -> root.put("cluster", map("redis", cluster.redis().getScheme() + "://"
                + cluster.redis().getHost() + (cluster.redis().getPort() < 0 ? "" : ":" + cluster.redis().getPort()),
                "advertise", cluster.advertise().toString(), "secretFile", cluster.secretFile().toString())));
        if (!config.warm().images().isEmpty()) {
            root.put("warm", map("interval", Durations.format(config.warm().interval()), "images", config.warm().images()));
        }
        try {
            return YAML.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("maps of plain values always serialise", e);
        }
    }

    private static Map<String, Object> upstream(UpstreamConfig upstream) {
        Map<String, Object> keys = map("name", upstream.name(), "url", upstream.url().toString(), "default", upstream.isDefault(),
                "tagTtl", Durations.format(upstream.tagTtl()), "maxStale", Durations.format(upstream.maxStale()),
                "refreshAhead", upstream.refreshAhead());
        upstream.username().ifPresent(user -> keys.put("username", user));
        upstream.password().ifPresent(password -> keys.put("password", MASK));
        if (!upstream.authHosts().isEmpty()) {
            keys.put("authHosts", upstream.authHosts());
        }
        if (!upstream.allow().isEmpty()) {
            keys.put("allow", upstream.allow());
        }
        UpstreamTimeouts timeouts = upstream.timeouts();
        keys.put("connectTimeout", Durations.format(timeouts.connect()));
        keys.put("responseTimeout", Durations.format(timeouts.response()));
        keys.put("manifestTimeout", Durations.format(timeouts.manifest()));
        keys.put("blobMinRate", Sizes.format(timeouts.blobMinRate()));
        keys.put("blobRateWindow", Durations.format(timeouts.blobRateWindow()));
        upstream.caFile().ifPresent(ca -> keys.put("caFile", ca.toString()));
        keys.put("maxManifestSize", Sizes.format(upstream.maxManifestSize()));
        // Only the proxy key is written back: the variables apply again wherever the output is loaded.
        upstream.egress().fromKey().ifPresent(proxy -> {
            keys.put("proxy", proxy.toString());
            proxy.password().ifPresent(password -> keys.put("proxyPassword", MASK));
        });
        upstream.credentials().passwordFile().ifPresent(file -> keys.put("passwordFile", file.toString()));
        upstream.credentials().helper().ifPresent(helper -> {
            keys.put("credentialHelper", helper);
            keys.put("credentialTtl", Durations.format(upstream.credentials().ttl()));
        });
        if (!upstream.fallback().isEmpty()) {
            keys.put("fallback", upstream.fallback());
        }
        return keys;
    }

    private static List<String> strings(List<CidrBlock> cidrs) {
        return cidrs.stream().map(CidrBlock::toString).toList();
    }

    private static Map<String, Object> map(Object... keysAndValues) {
        Map<String, Object> map = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            map.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return map;
    }
}
