package dev.pullthrough.layout;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pullthrough.oci.Descriptor;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.InvalidManifestException;
import dev.pullthrough.oci.ManifestContent;
import dev.pullthrough.oci.MediaTypes;
import dev.pullthrough.oci.Reference;
import dev.pullthrough.proxy.ImageReference;
import dev.pullthrough.proxy.Target;
import dev.pullthrough.proxy.UpstreamRouter;
import dev.pullthrough.storage.blob.BlobStore;
import dev.pullthrough.storage.blob.StoredBlob;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.meta.StoredManifest;
import dev.pullthrough.storage.meta.TagKey;
import dev.pullthrough.storage.meta.TagResolution;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Writes cached images as an OCI image layout tar (oci-layout, index.json, blobs/), from the cache
 * alone: for moving a cache into an air-gapped site. Every platform of an index must be cached.
 */
public final class OciLayoutExporter {
    static final ObjectMapper JSON = new ObjectMapper();

    private final UpstreamRouter router;
    private final MetadataStore metadata;
    private final BlobStore blobs;

    public OciLayoutExporter(UpstreamRouter router, MetadataStore metadata, BlobStore blobs) {
        this.router = router;
        this.metadata = metadata;
        this.blobs = blobs;
    }

    /** Exports {@code images}; returns how many blobs and manifests went into the tar. */
    public int export(Iterable<String> images, Path output) throws IOException {
        ArrayNode index = JSON.createArrayNode();
        Map<Digest, Object> content = new LinkedHashMap<>();
        for (String image : images) {
            ImageReference reference = ImageReference.parse(image);
            UpstreamRouter.Result routed = router.route(reference.name(), Optional.empty());
            if (routed.error().isPresent()) {
                throw new IOException(image + ": " + routed.error().get().message());
            }
            Target target = routed.target().orElseThrow();
            StoredManifest top = top(target, reference, image);
            collect(top, content, image);
            ObjectNode descriptor = index.addObject();
            descriptor.put("mediaType", top.mediaType()).put("digest", top.digest().toString()).put("size", top.bytes().length);
            ObjectNode annotations = descriptor.putObject("annotations");
            annotations.put(OciLayout.UPSTREAM, target.upstreamName());
            annotations.put(OciLayout.REPOSITORY, target.repository().value());
            if (reference.reference() instanceof Reference.Tag) {
                annotations.put(OciLayout.REF_NAME, reference.reference().toString());
                annotations.put("io.containerd.image.name", target.upstreamName() + "/" + target.repository() + ":" + reference.reference());
            }
        }
        Path partial = output.resolveSibling(output.getFileName() + ".partial");
        try (OutputStream file = Files.newOutputStream(partial);
             TarArchiveOutputStream tar = new TarArchiveOutputStream(file)) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
            entry(tar, OciLayout.LAYOUT_FILE, "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8));
            for (Map.Entry<Digest, Object> item : content.entrySet()) {
                String name = "blobs/" + item.getKey().algorithm() + "/" + item.getKey().hex();
                if (item.getValue() instanceof StoredBlob) {
                    StoredBlob blob = (StoredBlob) item.getValue();
                    TarArchiveEntry entry = new TarArchiveEntry(name);
                    entry.setSize(blob.size());
                    tar.putArchiveEntry(entry);
                    Files.copy(blob.path(), tar);
                    tar.closeArchiveEntry();
                } else {
                    entry(tar, name, ((StoredManifest) item.getValue()).bytes());
                }
            }
            ObjectNode indexJson = JSON.createObjectNode();
            indexJson.put("schemaVersion", 2).put("mediaType", MediaTypes.OCI_INDEX).set("manifests", index);
            entry(tar, OciLayout.INDEX_FILE, JSON.writeValueAsBytes(indexJson));
        }
        Files.move(partial, output, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return content.size();
    }

    private StoredManifest top(Target target, ImageReference reference, String image) throws IOException {
        Optional<Digest> digest = reference.reference().digest();
        if (digest.isEmpty()) {
            String repository = target.repository().value();
            String tag = reference.reference().toString();
            digest = metadata.tag(TagKey.own(target.upstreamName(), repository, tag))
                    .or(() -> metadata.anyTag(target.upstreamName(), repository, tag))
                    .map(TagResolution::digest);
        }
        return digest.flatMap(metadata::manifest).orElseThrow(() -> new IOException(image
                + " is not in the cache; prefetch it first"));
    }

    /** Blobs first, then the manifests that name them, children before parents. */
    private void collect(StoredManifest manifest, Map<Digest, Object> content, String image) throws IOException {
        if (content.containsKey(manifest.digest())) {
            return; // collected by another path: each manifest once, however many lead to it (issue 26)
        }
        ManifestContent parsed;
        try {
            parsed = ManifestContent.parse(manifest.bytes());
        } catch (InvalidManifestException e) {
            throw new IOException(image + ": cached manifest " + manifest.digest() + " is not a manifest: " + e.getMessage());
        }
        for (Descriptor child : parsed.manifests()) {
            StoredManifest childManifest = metadata.manifest(child.digest()).orElseThrow(() -> new IOException(
                    image + ": platform manifest " + child.digest() + " is not cached; prefetch the image (every platform) first"));
            collect(childManifest, content, image);
        }
        for (Descriptor blob : parsed.blobs()) {
            if (!content.containsKey(blob.digest())) {
                content.put(blob.digest(), blobs.stat(blob.digest()).orElseThrow(() -> new IOException(
                        image + ": blob " + blob.digest() + " is not cached; prefetch the image first")));
            }
        }
        content.putIfAbsent(manifest.digest(), manifest);
    }

    private static void entry(TarArchiveOutputStream tar, String name, byte[] bytes) throws IOException {
        TarArchiveEntry entry = new TarArchiveEntry(name);
        entry.setSize(bytes.length);
        tar.putArchiveEntry(entry);
        tar.write(bytes);
        tar.closeArchiveEntry();
    }
}
