package dev.pullthrough.layout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.proxy.ManifestAdmission;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.maintenance.CacheJanitor;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import dev.pullthrough.storage.blob.BlobStore;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 26, hole 5 for {@code import}: a layout whose index lists its child twice, nested 20 levels
 * (2^20 paths), visits and admits each manifest once; one nested deeper than a prefetch may go is refused.
 */
class LayoutImportGraphTest {
    private static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
    private static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

    @TempDir
    Path temp;

    private RocksMetadataStore metadata;
    private final AtomicInteger stats = new AtomicInteger();
    private OciLayoutImporter importer;

    @BeforeEach
    void open() throws IOException {
        BlobPaths paths = new BlobPaths(temp.resolve("cache"));
        metadata = new RocksMetadataStore(paths.metadataDir());
        FileBlobStore files = new FileBlobStore(paths);
        // Counts the importer's look-ups of blobs: one per manifest visit (and one per blob written).
        BlobStore blobs = (BlobStore) Proxy.newProxyInstance(BlobStore.class.getClassLoader(), new Class<?>[] {BlobStore.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("stat")) {
                        stats.incrementAndGet();
                    }
                    try {
                        return method.invoke(files, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        CacheJanitor janitor = new CacheJanitor(metadata, blobs, 1L << 30, d -> false, e -> { }, Clock.systemUTC(), Runnable::run);
        importer = new OciLayoutImporter(metadata, blobs, janitor, new ManifestAdmission(metadata, janitor), Clock.systemUTC());
    }

    @AfterEach
    void close() {
        metadata.close();
    }

    /** A layout tar of an image under {@code levels} indexes, each listing the one below twice. */
    private Path doublingChainLayout(int levels) throws IOException {
        Map<Digest, byte[]> blobs = new LinkedHashMap<>();
        byte[] config = "{}".getBytes(StandardCharsets.UTF_8);
        blobs.put(Digest.sha256Of(config), config);
        byte[] bytes = ("{\"schemaVersion\":2,\"mediaType\":\"" + OCI_MANIFEST + "\",\"config\":{\"mediaType\":"
                + "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + Digest.sha256Of(config) + "\",\"size\":2},"
                + "\"layers\":[]}").getBytes(StandardCharsets.UTF_8);
        String type = OCI_MANIFEST;
        for (int level = 0; level < levels; level++) {
            blobs.put(Digest.sha256Of(bytes), bytes);
            String child = "{\"mediaType\":\"" + type + "\",\"digest\":\"" + Digest.sha256Of(bytes) + "\",\"size\":" + bytes.length + "}";
            bytes = ("{\"schemaVersion\":2,\"mediaType\":\"" + OCI_INDEX + "\",\"manifests\":[" + child + "," + child + "]}")
                    .getBytes(StandardCharsets.UTF_8);
            type = OCI_INDEX;
        }
        blobs.put(Digest.sha256Of(bytes), bytes);
        byte[] index = ("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" + type + "\",\"digest\":\"" + Digest.sha256Of(bytes)
                + "\",\"size\":" + bytes.length + ",\"annotations\":{\"" + OciLayout.REF_NAME + "\":\"top\",\""
                + OciLayout.UPSTREAM + "\":\"hub\",\"" + OciLayout.REPOSITORY + "\":\"team/app\"}}]}").getBytes(StandardCharsets.UTF_8);
        Path tar = temp.resolve("layout.tar");
        try (OutputStream file = Files.newOutputStream(tar); TarArchiveOutputStream out = new TarArchiveOutputStream(file)) {
            for (Map.Entry<Digest, byte[]> blob : blobs.entrySet()) {
                entry(out, "blobs/sha256/" + blob.getKey().toString().substring("sha256:".length()), blob.getValue());
            }
            entry(out, OciLayout.INDEX_FILE, index);
        }
        return tar;
    }

    private static void entry(TarArchiveOutputStream out, String name, byte[] bytes) throws IOException {
        TarArchiveEntry entry = new TarArchiveEntry(name);
        entry.setSize(bytes.length);
        out.putArchiveEntry(entry);
        out.write(bytes);
        out.closeArchiveEntry();
    }

    @Test
    void load_childTwiceNested_eachManifestVisitedOnce() throws IOException {
        Path tar = doublingChainLayout(20);

        OciLayoutImporter.Report report = importer.load(tar);

        assertEquals(21, report.manifests(), "20 indexes and the image");
        assertEquals(22 + 21, stats.get(), "each of 22 blobs looked up once as written, each of 21 manifests visited once "
                + "(not once per path: 2^21)");
        assertEquals(1, report.images());
        assertTrue(metadata.tag(dev.pullthrough.storage.meta.TagKey.own("hub", "team/app", "top")).isPresent());
    }

    @Test
    void load_nestedDeeperThanAPrefetchMayGo_refusedNamingTheLimit() throws IOException {
        Path tar = doublingChainLayout(70);

        IOException refused = assertThrows(IOException.class, () -> importer.load(tar));

        assertTrue(refused.getMessage().contains("nested deeper than 64 levels"), refused.getMessage());
    }
}
