package dev.pullthrough.storage.meta;

import dev.pullthrough.oci.Digest;

/** That the upstream holds {@code digest} in {@code repository}, as checked once. */
public record RepositoryLink(String upstream, String repository, Digest digest) {}
