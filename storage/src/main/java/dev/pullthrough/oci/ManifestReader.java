package dev.pullthrough.oci;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reads a manifest's descriptors from its bytes in one streaming pass, bounded in work and memory:
 * no JSON tree is built (issue 26: a 3.9 MiB manifest of 1.4 million empty objects took a
 * 128 MiB heap as a tree), everything but the descriptors' own fields is skipped unread, and a
 * manifest with more JSON tokens or descriptors than any real one is refused, naming the limit.
 */
final class ManifestReader {
    /**
     * The most JSON tokens (a value, a field name, an object's or array's start or end) read from
     * one manifest: a descriptor with platform and annotations is about 30, so this is thousands
     * of descriptors, and reading them costs milliseconds.
     */
    static final long MAX_TOKENS = 200_000;
    /** The most descriptors ({@code manifests}, {@code config}, {@code layers}) one manifest may name. */
    static final int MAX_DESCRIPTORS = 10_000;
    /**
     * The longest string read (a media type, a digest, a URL); longer ones anywhere else are
     * skipped unread, so a large annotation costs nothing.
     */
    static final int MAX_READ_STRING = 64 * 1024;
    /** Real manifests nest four levels deep (index, manifests, platform, os.features). */
    static final int MAX_DEPTH = 64;

    private static final JsonFactory JSON = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxTokenCount(MAX_TOKENS)
                    .maxStringLength(MAX_READ_STRING)
                    .maxNestingDepth(MAX_DEPTH)
                    .build())
            .build();

    private final JsonParser parser;
    private int descriptors;

    private ManifestReader(JsonParser parser) {
        this.parser = parser;
    }

    static ManifestContent read(byte[] bytes) {
        try (JsonParser parser = JSON.createParser(bytes)) {
            try {
                return new ManifestReader(parser).manifest();
            } catch (StreamConstraintsException e) {
                throw new InvalidManifestException(parser.currentTokenCount() >= MAX_TOKENS
                        ? "it has more than " + MAX_TOKENS + " JSON tokens, the most a manifest may have"
                        : "it exceeds a limit of the manifest reader: " + e.getOriginalMessage());
            }
        } catch (JsonProcessingException e) {
            throw new InvalidManifestException("not JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new InvalidManifestException("unreadable: " + e.getMessage());
        }
    }

    private ManifestContent manifest() throws IOException {
        if (parser.nextToken() != JsonToken.START_OBJECT) {
            throw new InvalidManifestException("not a JSON object");
        }
        int schemaVersion = -1;
        Optional<String> mediaType = Optional.empty();
        List<Descriptor> manifests = List.of();
        Optional<Descriptor> config = Optional.empty();
        List<Descriptor> layers = List.of();
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String field = parser.currentName();
            JsonToken value = parser.nextToken();
            switch (field) {
                case "schemaVersion" -> schemaVersion = (int) number(value);
                case "mediaType" -> mediaType = value == JsonToken.VALUE_STRING ? Optional.of(parser.getText()) : skip(Optional.empty());
                case "manifests" -> manifests = descriptors(value, field);
                case "config" -> config = value == JsonToken.START_OBJECT ? Optional.of(descriptor(field)) : skip(Optional.empty());
                case "layers" -> layers = descriptors(value, field);
                default -> parser.skipChildren();
            }
        }
        return new ManifestContent(schemaVersion, mediaType, manifests, config, layers);
    }

    private List<Descriptor> descriptors(JsonToken value, String field) throws IOException {
        if (value == JsonToken.VALUE_NULL) {
            return List.of();
        }
        if (value != JsonToken.START_ARRAY) {
            throw new InvalidManifestException("'" + field + "' is not an array");
        }
        List<Descriptor> out = new ArrayList<>();
        while (parser.nextToken() != JsonToken.END_ARRAY) {
            if (parser.currentToken() != JsonToken.START_OBJECT) {
                throw new InvalidManifestException("a descriptor in '" + field + "' has no digest");
            }
            out.add(descriptor(field));
        }
        return List.copyOf(out);
    }

    /** One descriptor object, the parser on its start; leaves the parser on its end. */
    private Descriptor descriptor(String field) throws IOException {
        if (++descriptors > MAX_DESCRIPTORS) {
            throw new InvalidManifestException("it names more than " + MAX_DESCRIPTORS + " descriptors, the most a manifest may name");
        }
        String mediaType = "";
        String digest = null;
        long size = -1;
        List<String> urls = List.of();
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String name = parser.currentName();
            JsonToken value = parser.nextToken();
            switch (name) {
                case "mediaType" -> mediaType = value.isScalarValue() && value != JsonToken.VALUE_NULL ? parser.getText() : skip("");
                case "digest" -> digest = value == JsonToken.VALUE_STRING ? parser.getText() : skip(null);
                case "size" -> size = number(value);
                case "urls" -> urls = texts(value);
                default -> parser.skipChildren();
            }
        }
        if (digest == null) {
            throw new InvalidManifestException("a descriptor in '" + field + "' has no digest");
        }
        try {
            return new Descriptor(mediaType, Digest.parse(digest), size, urls);
        } catch (InvalidDigestException e) {
            throw new InvalidManifestException("a descriptor in '" + field + "' has an invalid digest: " + e.getMessage());
        }
    }

    /** The texts of an array's scalar elements ({@code ""} for a nested object or array). */
    private List<String> texts(JsonToken value) throws IOException {
        if (value != JsonToken.START_ARRAY) {
            parser.skipChildren();
            return List.of();
        }
        List<String> out = new ArrayList<>();
        while (parser.nextToken() != JsonToken.END_ARRAY) {
            if (parser.currentToken().isStructStart()) {
                parser.skipChildren();
                out.add("");
            } else {
                out.add(parser.getText());
            }
        }
        return List.copyOf(out);
    }

    /** A number as the tree reader took it: integral part of a number, a numeric string, else {@code -1}. */
    private long number(JsonToken value) throws IOException {
        switch (value) {
            case VALUE_NUMBER_INT:
            case VALUE_NUMBER_FLOAT:
                return parser.getValueAsLong(-1);
            case VALUE_STRING:
                String text = parser.getText().trim();
                try {
                    return Long.parseLong(text);
                } catch (NumberFormatException e) {
                    return -1;
                }
            default:
                parser.skipChildren();
                return -1;
        }
    }

    /** Skips the value the parser is on (with all it holds) and answers {@code result}. */
    private <T> T skip(T result) throws IOException {
        parser.skipChildren();
        return result;
    }
}
