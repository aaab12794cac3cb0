package dev.pullthrough.storage.meta;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link MetadataStore#holdsAnything} (issue 29, what {@code _catalog} lists): a repository holds
 * something while one digest linked to it is indexed, whatever other repositories and upstreams link.
 */
class RocksRepositoryHoldingsTest {
    @TempDir
    Path dir;

    private static Digest digest(int n) {
        return Digest.sha256Of(("blob " + n).getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void holdsAnything_whileOneLinkedDigestIsIndexed() throws IOException {
        try (RocksMetadataStore store = new RocksMetadataStore(dir)) {
            store.link("hub", "team/app", digest(1));
            store.putLinkedBlob("hub", "team/app", digest(2), 10, 1_000);
            store.link("hub", "team/app-other", digest(3));
            store.putLinkedBlob("hub", "team/ap", digest(4), 10, 1_000); // a prefix of the name: not the same repository
            store.putLinkedBlob("ghcr", "team/app", digest(5), 10, 1_000); // another upstream's repository
            assertTrue(store.holdsAnything("hub", "team/app"));

            store.removeAll(List.of(store.entry(digest(2)).orElseThrow())); // evicted
            assertFalse(store.holdsAnything("hub", "team/app"), "linked, but nothing of it cached");
            assertFalse(store.holdsAnything("hub", "team/app-other"));
            assertTrue(store.holdsAnything("hub", "team/ap"));

            store.putBlob(digest(1), 10, 2_000); // the other linked digest cached now, through any repository
            assertTrue(store.holdsAnything("hub", "team/app"));
        }
    }
}
