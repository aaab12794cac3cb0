package dev.pullthrough.proxy;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.InvalidManifestException;
import dev.pullthrough.oci.ManifestContent;
import dev.pullthrough.oci.MediaTypes;
import dev.pullthrough.storage.maintenance.CacheJanitor;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.meta.StoredManifest;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/**
 * The one way a manifest enters the cache, whoever brings it (a pull, prefetch, import): verify the
 * bytes against the digest and read its descriptors, store it, record that the repository holds it
 * and everything it names, count it against the cache bound and make room. Blocking.
 */
public final class ManifestAdmission {
    /** The manifest cannot be admitted: its bytes do not hash to its digest, or are not a manifest. */
    public static final class Refused extends Exception {
        Refused(String message) {
            super(message);
        }
    }

    private final MetadataStore metadata;
    private final CacheJanitor janitor;

    public ManifestAdmission(MetadataStore metadata, CacheJanitor janitor) {
        this.metadata = metadata;
        this.janitor = janitor;
    }

    /**
     * Admits {@code bytes}, served under {@code mediaType} as {@code digest} by {@code upstream} for
     * {@code repository}, and links it there; returns what is now cached.
     */
    public StoredManifest admit(String upstream, String repository, Digest digest, String mediaType, byte[] bytes)
            throws Refused {
        return admit(upstream, repository, digest, mediaType, bytes, Set.of());
    }

    /** As above, for a client that also listed {@code alsoAccepted}. */
    public StoredManifest admit(String upstream, String repository, Digest digest, String mediaType, byte[] bytes,
                                Set<String> alsoAccepted) throws Refused {
        StoredManifest manifest = admit(digest, mediaType, bytes, alsoAccepted);
        link(upstream, repository, manifest);
        return manifest;
    }

    /**
     * Admits {@code bytes} of no known repository (an imported layout without our annotations): it
     * serves by digest only once some repository is linked to it. Bytes already cached are not stored twice.
     */
    public StoredManifest admit(Digest digest, String mediaType, byte[] bytes) throws Refused {
        return admit(digest, mediaType, bytes, Set.of());
    }

    /**
     * As {@link #admit(Digest, String, byte[])}; {@code alsoAccepted} are further media types the
     * client listed, which a manifest may carry besides the four of schema 2 and OCI.
     */
    public StoredManifest admit(Digest digest, String mediaType, byte[] bytes, Set<String> alsoAccepted) throws Refused {
        if (!MediaTypes.isManifest(mediaType) && !(alsoAccepted.contains(mediaType) && mediaType.endsWith("+json"))) {
            // A captive portal's login page, a proxy's error page: never cached as a manifest.
            throw new Refused("it came as " + (mediaType.isEmpty() ? "no Content-Type" : "'" + mediaType + "'")
                    + ", which is not a manifest media type");
        }
        if (!digest.matches(bytes)) {
            throw new Refused("the bytes do not hash to " + digest);
        }
        ManifestContent content;
        try {
            content = ManifestContent.parse(bytes);
        } catch (InvalidManifestException e) {
            throw new Refused("not a manifest (" + e.getMessage() + ")");
        }
        if (content.schemaVersion() != 2) {
            throw new Refused("its schemaVersion is " + content.schemaVersion() + ", not 2");
        }
        if (content.mediaType().isPresent() && !content.mediaType().get().equals(mediaType)) {
            throw new Refused("it says it is " + content.mediaType().get() + " but came as " + mediaType);
        }
        StoredManifest manifest = new StoredManifest(digest, mediaType, bytes);
        if (metadata.manifest(digest).isEmpty()) {
            metadata.putManifest(manifest);
            janitor.added(bytes.length);
        }
        return manifest;
    }

    /**
     * Records that the repository holds the manifest, everything it names, and (for the manifests
     * among those that are cached) everything they name: a registry accepts a manifest only when
     * what it names is in the same repository, so a verified manifest vouches for its whole tree.
     */
    public void link(String upstream, String repository, StoredManifest manifest) {
        link(upstream, repository, manifest, new HashSet<>());
    }

    private void link(String upstream, String repository, StoredManifest manifest, Set<Digest> seen) {
        if (!seen.add(manifest.digest())) {
            return;
        }
        metadata.link(upstream, repository, manifest.digest());
        ManifestContent content;
        try {
            content = ManifestContent.parse(manifest.bytes());
        } catch (InvalidManifestException e) {
            return; // admitted before this check existed: vouches for nothing beyond itself
        }
        for (Digest referenced : content.references()) {
            metadata.link(upstream, repository, referenced);
        }
        for (var child : content.manifests()) {
            Optional<StoredManifest> cached = metadata.manifest(child.digest());
            cached.ifPresent(m -> link(upstream, repository, m, seen));
        }
    }
}
