package dev.pullthrough.layout;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pullthrough.oci.Descriptor;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.InvalidManifestException;
import dev.pullthrough.oci.ManifestContent;
import dev.pullthrough.proxy.ManifestAdmission;
import dev.pullthrough.proxy.WalkLimits;
import dev.pullthrough.storage.blob.BlobStore;
import dev.pullthrough.storage.blob.BlobWriter;
import dev.pullthrough.storage.blob.StoredBlob;
import dev.pullthrough.storage.maintenance.CacheJanitor;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.meta.StoredManifest;
import dev.pullthrough.storage.meta.TagKey;
import dev.pullthrough.storage.meta.TagResolution;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Loads an OCI image layout tar into the cache: every blob verified against its digest while it is
 * written, then the manifests of index.json (children first) and their tags, so the images are
 * served offline. Images exported by this proxy keep their upstream and repository.
 */
public final class OciLayoutImporter {
    /** What an import loaded. */
    public record Report(int blobs, long bytes, int manifests, int images) {}

    private final MetadataStore metadata;
    private final BlobStore blobs;
    private final CacheJanitor janitor;
    private final ManifestAdmission admission;
    private final Clock clock;

    public OciLayoutImporter(MetadataStore metadata, BlobStore blobs, CacheJanitor janitor, ManifestAdmission admission,
                             Clock clock) {
        this.metadata = metadata;
        this.blobs = blobs;
        this.janitor = janitor;
        this.admission = admission;
        this.clock = clock;
    }

    public Report load(Path tarFile) throws IOException {
        byte[] index = null;
        int blobCount = 0;
        long bytes = 0;
        try (InputStream file = Files.newInputStream(tarFile); TarArchiveInputStream tar = new TarArchiveInputStream(file)) {
            TarArchiveEntry entry;
            while ((entry = tar.getNextEntry()) != null) {
                String name = entry.getName().startsWith("./") ? entry.getName().substring(2) : entry.getName();
                if (name.equals(OciLayout.INDEX_FILE)) {
                    index = tar.readAllBytes();
                } else if (name.startsWith("blobs/") && entry.isFile()) {
                    String[] parts = name.split("/");
                    if (parts.length != 3) {
                        throw new IOException("unexpected entry " + name + " in " + tarFile);
                    }
                    Digest digest = Digest.parse(parts[1] + ":" + parts[2]);
                    bytes += write(digest, tar);
                    blobCount++;
                }
            }
        }
        if (index == null) {
            throw new IOException(tarFile + " has no index.json: not an OCI image layout");
        }
        Map<Digest, StoredManifest> admitted = new HashMap<>();
        JsonNode descriptors = OciLayoutExporter.JSON.readTree(index).path("manifests");
        for (JsonNode descriptor : descriptors) {
            StoredManifest top = manifest(Digest.parse(descriptor.path("digest").asText()),
                    descriptor.path("mediaType").asText(), admitted, 0);
            JsonNode annotations = descriptor.path("annotations");
            String tag = annotations.path(OciLayout.REF_NAME).asText("");
            String repository = annotations.path(OciLayout.REPOSITORY).asText("");
            String upstream = annotations.path(OciLayout.UPSTREAM).asText("");
            if (!repository.isEmpty() && !upstream.isEmpty()) {
                // The exporting proxy had the image in that repository: record it, and all it names, as there.
                admission.link(upstream, repository, top);
                if (!tag.isEmpty()) {
                    metadata.putTag(TagKey.own(upstream, repository, tag),
                            new TagResolution(top.digest(), top.mediaType(), clock.millis()));
                }
            }
        }
        return new Report(blobCount, bytes, admitted.size(), descriptors.size());
    }

    /** A blob from the tar, hashed while written; one that does not match its name is refused. */
    private long write(Digest digest, InputStream in) throws IOException {
        Optional<StoredBlob> existing = blobs.stat(digest);
        if (existing.isPresent()) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
            return 0;
        }
        try (BlobWriter writer = blobs.newWriter(digest)) {
            byte[] buffer = new byte[1 << 16];
            int n;
            while ((n = in.read(buffer)) >= 0) {
                writer.write(ByteBuffer.wrap(buffer, 0, n));
            }
            StoredBlob stored = writer.commit();
            metadata.putBlob(digest, stored.size(), clock.millis());
            janitor.added(stored.size());
            janitor.evictIfNeeded();
            return stored.size();
        }
    }

    /**
     * A manifest from the layout's blobs, its children admitted before it; each once however many
     * paths lead to it ({@code admitted}), nested no deeper than a prefetch may go (issue 26: a
     * child listed twice, 40 levels deep, is 2^40 paths in a few KB).
     */
    private StoredManifest manifest(Digest digest, String mediaType, Map<Digest, StoredManifest> admitted, int depth)
            throws IOException {
        StoredManifest done = admitted.get(digest);
        if (done != null) {
            return done;
        }
        if (depth > WalkLimits.DEFAULT.maxDepth()) {
            throw new IOException("manifest " + digest + " in the layout is nested deeper than " + WalkLimits.DEFAULT.maxDepth()
                    + " levels, the limit of one image");
        }
        StoredBlob blob = blobs.stat(digest).orElseThrow(() -> new IOException("manifest " + digest + " is not in the layout"));
        byte[] bytes = Files.readAllBytes(blob.path());
        try {
            for (Descriptor child : ManifestContent.parse(bytes).manifests()) {
                manifest(child.digest(), child.mediaType(), admitted, depth + 1);
            }
            StoredManifest manifest = admission.admit(digest, mediaType, bytes);
            admitted.put(digest, manifest);
            return manifest;
        } catch (InvalidManifestException | ManifestAdmission.Refused e) {
            throw new IOException("manifest " + digest + " in the layout cannot be cached: " + e.getMessage());
        }
    }
}
