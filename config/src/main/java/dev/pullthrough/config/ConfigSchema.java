package dev.pullthrough.config;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The shape of the config tree: which keys exist, which are lists. Shared by the YAML check for
 * unknown keys and by the {@code PULLTHROUGH_*} environment override, so both accept the same keys.
 */
final class ConfigSchema {
    enum Kind { SCALAR, SCALAR_LIST, OBJECT, OBJECT_LIST }

    final Kind kind;
    final Map<String, ConfigSchema> children;

    private ConfigSchema(Kind kind, Map<String, ConfigSchema> children) {
        this.kind = kind;
        this.children = children;
    }

    static final ConfigSchema ROOT = object(
            "server", object(
                    "host", scalar(),
                    "port", scalar(),
                    "headerTimeout", scalar(),
                    "maxConnectionsPerClient", scalar(),
                    "drainDelay", scalar(),
                    "drainTimeout", scalar(),
                    "tls", object(
                            "certFile", scalar(),
                            "keyFile", scalar(),
                            "clientCaFile", scalar())),
            "admin", object("port", scalar(), "allowCidrs", scalarList(), "upstreamCheckInterval", scalar()),
            "storage", object("path", scalar(), "maxSize", scalar(), "syncInterval", scalar(), "directWrites", scalar(),
                    "s3", object(
                            "bucket", scalar(),
                            "endpoint", scalar(),
                            "region", scalar(),
                            "pathStyle", scalar(),
                            "accessKey", scalar(),
                            "secretKey", scalar(),
                            "secretKeyFile", scalar(),
                            "prefix", scalar(),
                            "redirect", scalar(),
                            "retention", scalar())),
            "offline", scalar(),
            "log", object("format", scalar()),
            "warm", object("interval", scalar(), "images", scalarList()),
            "cluster", object("redis", scalar(), "passwordFile", scalar(), "advertise", scalar(), "secretFile", scalar()),
            "auth", object("htpasswd", scalar(), "allowCidrs", scalarList()),
            "upstreams", objectList(
                    "name", scalar(),
                    "url", scalar(),
                    "default", scalar(),
                    "tagTtl", scalar(),
                    "maxStale", scalar(),
                    "username", scalar(),
                    "password", scalar(),
                    "passwordFile", scalar(),
                    "authHosts", scalarList(),
                    "allow", scalarList(),
                    "connectTimeout", scalar(),
                    "responseTimeout", scalar(),
                    "manifestTimeout", scalar(),
                    "blobMinRate", scalar(),
                    "blobRateWindow", scalar(),
                    "caFile", scalar(),
                    "maxManifestSize", scalar(),
                    "proxy", scalar(),
                    "proxyPassword", scalar(),
                    "proxyPasswordFile", scalar(),
                    "credentialHelper", scalar(),
                    "credentialTtl", scalar(),
                    "fallback", scalarList(),
                    "refreshAhead", scalar()));

    static ConfigSchema scalar() {
        return new ConfigSchema(Kind.SCALAR, Map.of());
    }

    static ConfigSchema scalarList() {
        return new ConfigSchema(Kind.SCALAR_LIST, Map.of());
    }

    static ConfigSchema object(Object... keysAndSchemas) {
        return new ConfigSchema(Kind.OBJECT, pairs(keysAndSchemas));
    }

    static ConfigSchema objectList(Object... keysAndSchemas) {
        return new ConfigSchema(Kind.OBJECT_LIST, pairs(keysAndSchemas));
    }

    private static Map<String, ConfigSchema> pairs(Object... keysAndSchemas) {
        Map<String, ConfigSchema> map = new LinkedHashMap<>();
        for (int i = 0; i < keysAndSchemas.length; i += 2) {
            map.put((String) keysAndSchemas[i], (ConfigSchema) keysAndSchemas[i + 1]);
        }
        return map;
    }

    /** For an object list: the schema of one item. */
    ConfigSchema item() {
        return new ConfigSchema(Kind.OBJECT, children);
    }

    /** The child key spelled {@code segment} in any case (environment names are upper case), or null. */
    String keyFor(String segment) {
        return children.keySet().stream().filter(k -> k.equalsIgnoreCase(segment)).findFirst().orElse(null);
    }
}
