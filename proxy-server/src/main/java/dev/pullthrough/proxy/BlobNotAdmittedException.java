package dev.pullthrough.proxy;

/**
 * A blob larger than the cache takes ({@code storage.maxSize}'s share for one blob), declared so or
 * found so as its body arrived: passed through, nothing evicted for it, nothing committed (issue 26).
 */
final class BlobNotAdmittedException extends StorageUnavailableException {
    BlobNotAdmittedException(String message) {
        super(message, null);
    }
}
