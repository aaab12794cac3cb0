package dev.pullthrough.oci;

/** A repository name or tag that does not follow the grammar; becomes {@code NAME_INVALID} or {@code TAG_INVALID}. */
public final class InvalidNameException extends IllegalArgumentException {
    public InvalidNameException(String message) {
        super(message);
    }
}
