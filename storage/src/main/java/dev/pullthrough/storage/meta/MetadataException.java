package dev.pullthrough.storage.meta;

/** The metadata store failed (disk, corruption); says what was being done. */
public final class MetadataException extends RuntimeException {
    public MetadataException(String attempted, Throwable cause) {
        super(attempted + " failed: " + cause.getMessage(), cause);
    }

    /** A problem with what is stored, not with reading it. */
    public MetadataException(String problem) {
        super(problem);
    }
}
