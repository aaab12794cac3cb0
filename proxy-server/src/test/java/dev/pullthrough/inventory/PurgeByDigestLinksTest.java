package dev.pullthrough.inventory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.inventory.CacheInventory.Repository;
import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.Reference;
import dev.pullthrough.proxy.PullCounts;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.blob.BlobWriter;
import dev.pullthrough.storage.blob.FileBlobStore;
import dev.pullthrough.storage.maintenance.CacheJanitor;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import dev.pullthrough.storage.meta.StoredManifest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 26, hole 11: purging {@code REPO@DIGEST} acts on that repository's link only, and the bytes
 * go only when nothing else links or needs them. {@code some/otherrepo@<digest>} never removes a
 * blob that only {@code redir/same} holds.
 */
class PurgeByDigestLinksTest {
    private static final Repository SAME = new Repository("hub", "redir/same");
    private static final Repository OTHER = new Repository("hub", "some/otherrepo");

    @TempDir
    Path dir;

    private RocksMetadataStore metadata;
    private FileBlobStore blobs;
    private CachePurge purge;

    @BeforeEach
    void open() throws IOException {
        metadata = new RocksMetadataStore(dir.resolve("meta"));
        blobs = new FileBlobStore(new BlobPaths(dir.resolve("blobs")));
        Clock clock = Clock.systemUTC();
        PullCounts pulls = new PullCounts();
        CacheJanitor janitor = new CacheJanitor(metadata, blobs, 1L << 30, d -> false, entry -> { }, clock, Runnable::run);
        purge = new CachePurge(metadata, janitor, new CacheInventory(metadata, pulls, "hub"), pulls, clock);
    }

    @AfterEach
    void close() {
        metadata.close();
    }

    private Digest blob(String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        Digest digest = Digest.sha256Of(bytes);
        try (BlobWriter writer = blobs.newWriter(digest)) {
            writer.write(ByteBuffer.wrap(bytes));
            writer.commit();
        }
        metadata.putBlob(digest, bytes.length, 0);
        return digest;
    }

    private boolean cached(Digest digest) throws IOException {
        return metadata.entry(digest).isPresent() && blobs.stat(digest).isPresent();
    }

    private PurgeResult purge(Repository repository, Digest digest) {
        return purge.purge(repository.repository() + "@" + digest, repository, Optional.of(new Reference.ByDigest(digest)));
    }

    @Test
    void purge_digestAnotherRepositoryHolds_nothingRemovedNoLinkTouched() throws IOException {
        Digest layer = blob("a layer only redir/same pulled");
        metadata.link(SAME.upstream(), SAME.repository(), layer);

        PurgeResult result = purge(OTHER, layer);

        assertEquals(PurgeResult.nothing("some/otherrepo@" + layer), result, "some/otherrepo holds nothing of that name");
        assertTrue(cached(layer), "the blob of redir/same is untouched");
        assertTrue(metadata.linked(SAME.upstream(), SAME.repository(), layer));
    }

    @Test
    void purge_digestNoRepositoryLinks_notTheNamedRepositorysToRemove() throws IOException {
        Digest loose = blob("a blob cached without a link (an import without annotations)");

        purge(OTHER, loose);

        assertTrue(cached(loose), "a purge by digest acts on the named repository's link, and it has none");
    }

    @Test
    void purge_blobTwoRepositoriesLink_onlyTheNamedLinkGoes_bytesStay() throws IOException {
        Digest layer = blob("a layer both repositories pulled");
        metadata.link(SAME.upstream(), SAME.repository(), layer);
        metadata.link(OTHER.upstream(), OTHER.repository(), layer);

        PurgeResult result = purge(OTHER, layer);

        assertEquals(0, result.blobs(), "redir/same still links it: " + result);
        assertTrue(cached(layer));
        assertFalse(metadata.linked(OTHER.upstream(), OTHER.repository(), layer), "the named repository's link went");
        assertTrue(metadata.linked(SAME.upstream(), SAME.repository(), layer), "the other's stayed");
    }

    @Test
    void purge_manifestTwoRepositoriesHold_namedRepositoryLosesIt_theOtherKeepsIt() throws IOException {
        Digest config = blob("config");
        byte[] json = ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":"
                + "{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + config + "\",\"size\":6},"
                + "\"layers\":[]}").getBytes(StandardCharsets.UTF_8);
        Digest manifest = Digest.sha256Of(json);
        metadata.putManifest(new StoredManifest(manifest, "application/vnd.oci.image.manifest.v1+json", json));
        for (Repository repository : new Repository[] {SAME, OTHER}) {
            metadata.link(repository.upstream(), repository.repository(), manifest);
            metadata.link(repository.upstream(), repository.repository(), config);
        }

        PurgeResult result = purge(OTHER, manifest);

        assertEquals(0, result.blobs() + result.manifests(), "redir/same still holds the image: " + result);
        assertFalse(metadata.linked(OTHER.upstream(), OTHER.repository(), manifest),
                "some/otherrepo no longer serves it from the cache");
        assertTrue(metadata.linked(SAME.upstream(), SAME.repository(), manifest));
        assertTrue(metadata.manifest(manifest).isPresent() && cached(config));
    }

    @Test
    void purge_digestOnlyTheNamedRepositoryLinks_removed() throws IOException {
        Digest layer = blob("a layer only some/otherrepo pulled");
        metadata.link(OTHER.upstream(), OTHER.repository(), layer);

        PurgeResult result = purge(OTHER, layer);

        assertEquals(1, result.blobs(), result.toString());
        assertFalse(cached(layer));
        assertFalse(metadata.linked(OTHER.upstream(), OTHER.repository(), layer));
    }
}
