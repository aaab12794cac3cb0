package dev.pullthrough.proxy;

import dev.pullthrough.oci.Digest;

/**
 * An upstream download as the status page shows it: bytes received so far of {@code size} ({@code -1}
 * while the upstream has not said), and how many clients are being streamed the growing file.
 */
public record DownloadProgress(String upstream, String repository, Digest digest, long bytes, long size, int clients) {}
