package dev.pullthrough.proxy;

import dev.pullthrough.oci.Reference;
import dev.pullthrough.oci.RepositoryName;

/**
 * An image as the maintenance commands take it: {@code [UPSTREAM/]REPO[:TAG|@DIGEST]}, the tag
 * defaulting to {@code latest}. The name keeps any upstream prefix; the router resolves it.
 */
public record ImageReference(RepositoryName name, Reference reference) {
    public static ImageReference parse(String text) {
        int at = text.indexOf('@');
        if (at >= 0) {
            return new ImageReference(RepositoryName.parse(text.substring(0, at)), Reference.parse(text.substring(at + 1)));
        }
        int colon = text.lastIndexOf(':');
        if (colon > text.lastIndexOf('/')) {
            return new ImageReference(RepositoryName.parse(text.substring(0, colon)), Reference.parse(text.substring(colon + 1)));
        }
        return new ImageReference(RepositoryName.parse(text), Reference.parse("latest"));
    }

    @Override
    public String toString() {
        return name + (reference instanceof Reference.ByDigest ? "@" : ":") + reference;
    }
}
