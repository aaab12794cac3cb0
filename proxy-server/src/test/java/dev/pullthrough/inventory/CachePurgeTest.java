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
import dev.pullthrough.storage.meta.TagKey;
import dev.pullthrough.storage.meta.TagResolution;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a purge removes and keeps, and what the inventory lists, on the real index and blob files. */
class CachePurgeTest {
    private static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    private static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
    private static final Repository TEAM_APP = new Repository("hub", "team/app");

    @TempDir
    Path dir;

    private RocksMetadataStore metadata;
    private FileBlobStore blobs;
    private CacheJanitor janitor;
    private CacheInventory inventory;
    private CachePurge purge;
    private final PullCounts pulls = new PullCounts();
    private final Set<Digest> inUse = new HashSet<>();
    private final Clock clock = Clock.fixed(Instant.parse("2026-11-01T00:00:00Z"), ZoneOffset.UTC);

    @BeforeEach
    void open() throws IOException {
        metadata = new RocksMetadataStore(dir.resolve("meta"));
        blobs = new FileBlobStore(new BlobPaths(dir.resolve("blobs")));
        janitor = new CacheJanitor(metadata, blobs, 1L << 30, inUse::contains, entry -> { }, clock, Runnable::run);
        inventory = new CacheInventory(metadata, pulls, "hub");
        purge = new CachePurge(metadata, janitor, inventory, pulls, clock);
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
        metadata.putBlob(digest, bytes.length, clock.millis());
        return digest;
    }

    private static String descriptor(String mediaType, Digest digest, long size) {
        return "{\"mediaType\":\"" + mediaType + "\",\"digest\":\"" + digest + "\",\"size\":" + size + "}";
    }

    /** An image manifest naming {@code config} and {@code layers}, cached and tagged in {@code repository}. */
    private Digest image(Repository repository, String tag, Digest config, Digest... layers) {
        StringBuilder json = new StringBuilder("{\"schemaVersion\":2,\"mediaType\":\"" + OCI_MANIFEST + "\",\"config\":"
                + descriptor("application/vnd.oci.image.config.v1+json", config, 1) + ",\"layers\":[");
        for (int i = 0; i < layers.length; i++) {
            json.append(i == 0 ? "" : ",").append(descriptor("application/vnd.oci.image.layer.v1.tar", layers[i], 1));
        }
        return manifest(repository, tag, OCI_MANIFEST, json.append("]}").toString());
    }

    private Digest manifest(Repository repository, String tag, String mediaType, String json) {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        Digest digest = Digest.sha256Of(bytes);
        metadata.putManifest(new StoredManifest(digest, mediaType, bytes));
        metadata.link(repository.upstream(), repository.repository(), digest);
        if (tag != null) {
            metadata.putTag(TagKey.own(repository.upstream(), repository.repository(), tag),
                    new TagResolution(digest, mediaType, clock.millis()));
        }
        return digest;
    }

    private boolean cached(Digest digest) {
        return metadata.entry(digest).isPresent();
    }

    @Test
    void tag_removesWhatOnlyItUses_keepsTheLayerAnotherTagShares() throws IOException {
        Digest shared = blob("shared layer");
        Digest configA = blob("config a");
        Digest configB = blob("config b");
        Digest a = image(TEAM_APP, "a", configA, shared);
        Digest b = image(TEAM_APP, "b", configB, shared);
        long sizeOfA = metadataSize(a) + "config a".length();

        PurgeResult result = purge.purge("team/app:a", TEAM_APP, Optional.of(new Reference.Tag("a")));

        assertEquals(new PurgeResult("team/app:a", 1, 1, 1, sizeOfA, 0), result);
        assertFalse(cached(a) || cached(configA));
        assertTrue(cached(b) && cached(configB) && cached(shared));
        assertEquals(List.of(b), inventory.list(Optional.of(TEAM_APP)).stream().map(CachedImage::digest).toList());
    }

    private long metadataSize(Digest manifest) {
        return metadata.manifest(manifest).orElseThrow().bytes().length;
    }

    @Test
    void repository_keepsWhatAnotherRepositoryLinks_andNeverABlobInUse() throws IOException {
        Repository other = new Repository("hub", "other/app");
        Digest shared = blob("shared layer");
        Digest config = blob("config");
        Digest busy = blob("busy layer");
        Digest mine = image(TEAM_APP, "v1", config, shared, busy);
        Digest theirs = image(other, "v1", blob("their config"), shared);
        inUse.add(busy);

        PurgeResult result = purge.purge("team/app", TEAM_APP, Optional.empty());

        assertEquals(1, result.tags());
        assertEquals(1, result.manifests());
        assertEquals(1, result.blobs(), "the config; the shared layer stays for other/app");
        assertEquals(1, result.inUse(), "the layer being served");
        assertFalse(cached(mine) || cached(config));
        assertTrue(cached(theirs) && cached(shared) && cached(busy));
        assertTrue(inventory.list(Optional.of(TEAM_APP)).isEmpty());
        assertFalse(metadata.linked("hub", "team/app", shared), "the repository is forgotten");
    }

    @Test
    void index_listedOnce_withItsPlatformsSize_andPurgedByDigestWithTheTagsPointingAtIt() throws IOException {
        Digest amd = image(TEAM_APP, null, blob("amd config"), blob("amd layer"));
        Digest arm = image(TEAM_APP, null, blob("arm config"), blob("arm layer"));
        Digest index = manifest(TEAM_APP, "v2", OCI_INDEX, "{\"schemaVersion\":2,\"mediaType\":\"" + OCI_INDEX
                + "\",\"manifests\":[" + descriptor(OCI_MANIFEST, amd, 1) + "," + descriptor(OCI_MANIFEST, arm, 1) + "]}");
        metadata.putTag(TagKey.own("hub", "team/app", "latest"), new TagResolution(index, OCI_INDEX, clock.millis()));
        pulls.pulled("hub", "team/app", index);
        metadata.touch(Map.of(index, 5_000L, amd, 7_000L, arm, 6_000L));

        List<CachedImage> listed = inventory.list(Optional.empty());
        assertEquals(1, listed.size(), listed.toString());
        CachedImage image = listed.get(0);
        assertEquals(List.of("latest", "v2"), image.tags());
        assertEquals(OCI_INDEX, image.mediaType());
        assertEquals(1, image.pulls());
        long expected = metadataSize(index) + metadataSize(amd) + metadataSize(arm)
                + "amd config".length() + "amd layer".length() + "arm config".length() + "arm layer".length();
        assertEquals(expected, image.size());
        assertEquals(7_000, image.lastPulledMillis(), "the latest access of any of its manifests");

        PurgeResult result = purge.purge("team/app@" + index, TEAM_APP, Optional.of(new Reference.ByDigest(index)));

        assertEquals(new PurgeResult("team/app@" + index, 2, 3, 4, expected, 0), result);
        assertTrue(inventory.list(Optional.empty()).isEmpty());
        assertEquals(0, pulls.pulls("hub", "team/app", index));
    }

    @Test
    void unusedFor_purgesOnlyImagesNotPulledSinceThen() throws IOException {
        Digest old = image(TEAM_APP, "old", blob("old config"));
        Digest recent = image(TEAM_APP, "recent", blob("recent config"));
        metadata.touch(Map.of(old, clock.millis() - Duration.ofDays(40).toMillis()));

        List<PurgeResult> results = purge.purgeUnusedFor(Duration.ofDays(30));

        assertEquals(1, results.size());
        assertEquals("team/app@" + old, results.get(0).image());
        assertFalse(cached(old));
        assertTrue(cached(recent));
    }
}
