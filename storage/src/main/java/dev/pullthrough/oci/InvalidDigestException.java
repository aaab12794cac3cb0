package dev.pullthrough.oci;

/** A digest that does not follow the grammar; becomes {@code DIGEST_INVALID} for a client. */
public final class InvalidDigestException extends IllegalArgumentException {
    public InvalidDigestException(String message) {
        super(message);
    }
}
