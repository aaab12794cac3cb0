package dev.pullthrough.config;

/** A configuration mistake, naming the key, what is wrong with it, and how to fix it. */
public final class ConfigException extends RuntimeException {
    private final String key;

    public ConfigException(String key, String problem, String fix) {
        super(key + ": " + problem + (fix == null || fix.isEmpty() ? "" : "; " + fix));
        this.key = key;
    }

    /** The key path as written in YAML, e.g. {@code upstreams[0].tagTtl}. */
    public String key() {
        return key;
    }
}
