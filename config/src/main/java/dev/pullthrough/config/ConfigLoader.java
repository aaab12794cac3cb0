package dev.pullthrough.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Loads the configuration: the YAML file (optional), then {@code PULLTHROUGH_*} environment
 * overrides, then validation into {@link PullthroughConfig}. Every mistake is a
 * {@link ConfigException} naming the key and the fix.
 */
public final class ConfigLoader {
    static final String ENV_PREFIX = "PULLTHROUGH_";
    /** Duplicate keys are refused: with them, one of two settings would silently be lost. */
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory())
            .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private ConfigLoader() {}

    /** The configuration from {@code file} (embedded defaults when absent) and the process environment. */
    public static PullthroughConfig load(Optional<Path> file) {
        return load(file, System.getenv());
    }

    public static PullthroughConfig load(Optional<Path> file, Map<String, String> env) {
        ObjectNode tree = file.map(ConfigLoader::readYaml).orElseGet(JsonNodeFactory.instance::objectNode);
        return fromTree(tree, env);
    }

    /** Parses YAML text; for tests and for callers that hold the config in memory. */
    public static PullthroughConfig fromYaml(String yaml, Map<String, String> env) {
        return fromTree(parse("config", yaml), env);
    }

    private static PullthroughConfig fromTree(ObjectNode tree, Map<String, String> env) {
        checkKnownKeys(tree, ConfigSchema.ROOT, "");
        applyEnvironment(tree, env);
        return ConfigBinder.bind(tree, env);
    }

    private static ObjectNode readYaml(Path file) {
        try {
            return parse(file.toString(), Files.readString(file));
        } catch (java.nio.file.NoSuchFileException e) {
            throw new ConfigException("--config", "there is no file " + file.toAbsolutePath(),
                    "give the path of an existing YAML file, or leave --config out for the embedded defaults");
        } catch (IOException e) {
            throw new ConfigException("--config", "cannot read " + file + " (" + e + ")",
                    "give the path of a readable YAML file");
        }
    }

    private static ObjectNode parse(String source, String yaml) {
        JsonNode node;
        try {
            node = YAML.readTree(yaml);
        } catch (JsonProcessingException e) {
            throw new ConfigException(source, "is not valid YAML: " + e.getOriginalMessage()
                    + (e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr()),
                    "fix the YAML syntax");
        }
        if (node == null || node.isNull() || node.isMissingNode()) {
            return JsonNodeFactory.instance.objectNode();
        }
        if (!node.isObject()) {
            throw new ConfigException(source, "is not a YAML mapping", "start the file with keys such as 'server:'");
        }
        return (ObjectNode) node;
    }

    private static void checkKnownKeys(JsonNode node, ConfigSchema schema, String path) {
        switch (schema.kind) {
            case OBJECT:
                if (!node.isObject()) {
                    throw new ConfigException(path, "must be a mapping of keys", "known keys: " + schema.children.keySet());
                }
                node.fields().forEachRemaining(e -> {
                    String key = path.isEmpty() ? e.getKey() : path + "." + e.getKey();
                    ConfigSchema child = schema.children.get(e.getKey());
                    if (child == null) {
                        throw new ConfigException(key, "is not a configuration key",
                                "known keys here: " + schema.children.keySet() + " (keys are case-sensitive)");
                    }
                    if (!e.getValue().isNull()) {
                        checkKnownKeys(e.getValue(), child, key);
                    }
                });
                break;
            case OBJECT_LIST:
                if (!node.isArray()) {
                    throw new ConfigException(path, "must be a list", "write each item on a line starting with '- '");
                }
                for (int i = 0; i < node.size(); i++) {
                    checkKnownKeys(node.get(i), schema.item(), path + "[" + i + "]");
                }
                break;
            case SCALAR_LIST:
                if (!node.isArray()) {
                    throw new ConfigException(path, "must be a list", "write e.g. [\"a\", \"b\"]");
                }
                break;
            default:
                if (!node.isValueNode()) {
                    throw new ConfigException(path, "must be a single value", "write it as 'key: value'");
                }
        }
    }

    /** Applies {@code PULLTHROUGH_SERVER_PORT=5050}-style overrides, in a stable (sorted) order. */
    static void applyEnvironment(ObjectNode root, Map<String, String> env) {
        for (Map.Entry<String, String> e : new TreeMap<>(env).entrySet()) {
            if (e.getKey().startsWith(ENV_PREFIX)) {
                applyOne(root, e.getKey(), e.getValue());
            }
        }
    }

    private static void applyOne(ObjectNode root, String envName, String value) {
        String[] segments = envName.substring(ENV_PREFIX.length()).split("_");
        JsonNode node = root;
        ConfigSchema schema = ConfigSchema.ROOT;
        for (int i = 0; i < segments.length; i++) {
            boolean last = i == segments.length - 1;
            String segment = segments[i];
            String key = schema.keyFor(segment);
            if (key == null) {
                throw new ConfigException(envName, "does not name a configuration key",
                        "known keys here: " + schema.children.keySet() + ", e.g. PULLTHROUGH_SERVER_PORT");
            }
            ConfigSchema child = schema.children.get(key);
            ObjectNode object = (ObjectNode) node;
            if (child.kind == ConfigSchema.Kind.SCALAR || child.kind == ConfigSchema.Kind.SCALAR_LIST) {
                if (!last) {
                    throw new ConfigException(envName, "goes past the key '" + key + "'", "end the name at " + key.toUpperCase());
                }
                if (child.kind == ConfigSchema.Kind.SCALAR) {
                    object.put(key, value);
                } else {
                    ArrayNode list = object.putArray(key);
                    for (String item : value.split(",")) {
                        if (!item.isBlank()) {
                            list.add(item.trim());
                        }
                    }
                }
                return;
            }
            if (last) {
                throw new ConfigException(envName, "names a section, not a value", "add a key, e.g. " + envName + "_PORT");
            }
            if (child.kind == ConfigSchema.Kind.OBJECT) {
                JsonNode next = object.get(key);
                node = next instanceof ObjectNode ? next : object.putObject(key);
                schema = child;
                continue;
            }
            // OBJECT_LIST: the next segment is the item index.
            JsonNode existing = object.get(key);
            ArrayNode list = existing instanceof ArrayNode ? (ArrayNode) existing : object.putArray(key);
            if (!(existing instanceof ArrayNode) && key.equals("upstreams")) {
                // Overrides of upstreams[0] with no upstreams in the file amend the embedded default.
                ConfigBinder.addDefaultUpstream(list);
            }
            i++;
            int index;
            try {
                index = Integer.parseInt(segments[i]);
            } catch (NumberFormatException | ArrayIndexOutOfBoundsException ex) {
                throw new ConfigException(envName, "needs an item index after " + key.toUpperCase(), "e.g. PULLTHROUGH_UPSTREAMS_0_URL");
            }
            if (index < 0 || index > list.size()) {
                throw new ConfigException(envName, "index " + index + " skips items (the list has " + list.size() + ")",
                        "use index " + list.size() + " to add an item");
            }
            if (index == list.size()) {
                list.addObject();
            }
            node = list.get(index);
            schema = child.item();
            if (i == segments.length - 1) {
                throw new ConfigException(envName, "names a list item, not a value", "add a key, e.g. " + envName + "_URL");
            }
        }
    }
}
