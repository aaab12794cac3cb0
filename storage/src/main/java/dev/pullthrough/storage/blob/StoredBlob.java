package dev.pullthrough.storage.blob;

import dev.pullthrough.oci.Digest;
import java.nio.file.Path;

/** A committed blob on local disk: the file a response can send zero-copy. */
public record StoredBlob(Digest digest, Path path, long size) {}
