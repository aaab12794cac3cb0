package dev.pullthrough.oci;

import java.util.Optional;
import java.util.regex.Pattern;

/** What follows {@code /manifests/}: a tag or a digest. */
public sealed interface Reference permits Reference.Tag, Reference.ByDigest {
    Pattern TAG = Pattern.compile("[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}");

    /** A digest when the text has a colon (tags cannot), a tag otherwise; invalid text is refused. */
    static Reference parse(String text) {
        if (text.indexOf(':') >= 0) {
            return new ByDigest(Digest.parse(text));
        }
        if (!TAG.matcher(text).matches()) {
            throw new InvalidNameException("invalid tag '" + (text.length() > 64 ? text.substring(0, 64) + "..." : text) + "'");
        }
        return new Tag(text);
    }

    default Optional<Digest> digest() {
        return this instanceof ByDigest ? Optional.of(((ByDigest) this).value()) : Optional.empty();
    }

    /** A mutable name for a manifest. */
    record Tag(String value) implements Reference {
        @Override
        public String toString() {
            return value;
        }
    }

    /** An immutable, content-addressed reference. */
    record ByDigest(Digest value) implements Reference {
        @Override
        public String toString() {
            return value.toString();
        }
    }
}
