package dev.pullthrough.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.MediaTypes;
import dev.pullthrough.storage.meta.MetadataStore;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import dev.pullthrough.storage.meta.StoredManifest;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The memory in front of the index never holds what the index no longer has. */
class CachedMetadataStoreTest {
    private static final byte[] BYTES = ("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\"}")
            .getBytes(StandardCharsets.UTF_8);
    private static final StoredManifest MANIFEST = new StoredManifest(Digest.sha256Of(BYTES), MediaTypes.OCI_MANIFEST, BYTES);

    @TempDir
    Path dir;

    private RocksMetadataStore rocks;
    /** Counted down once a read of the store has its answer; the read then waits for {@link #finishRead}. */
    private final CountDownLatch readInStore = new CountDownLatch(1);
    private final CountDownLatch finishRead = new CountDownLatch(1);
    private volatile boolean holdReads;

    @BeforeEach
    void open() throws Exception {
        rocks = new RocksMetadataStore(dir);
    }

    @AfterEach
    void close() {
        rocks.close();
    }

    /** The real store, except that a manifest read can be held between reading and returning. */
    private MetadataStore slowReads() {
        return (MetadataStore) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {MetadataStore.class},
                (proxy, method, args) -> {
                    Object result;
                    try {
                        result = method.invoke(rocks, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                    if (method.getName().equals("manifest") && holdReads) {
                        readInStore.countDown();
                        assertTrue(finishRead.await(10, TimeUnit.SECONDS));
                    }
                    return result;
                });
    }

    @Test
    void removeManifest_racingAReadThatFoundIt_memoryDoesNotKeepIt() throws Exception {
        rocks.putManifest(MANIFEST); // in the store, not yet in memory
        CachedMetadataStore cached = new CachedMetadataStore(slowReads(), 1 << 20, 1 << 20);
        holdReads = true;

        CompletableFuture<Optional<StoredManifest>> read = CompletableFuture.supplyAsync(() -> cached.manifest(MANIFEST.digest()));
        assertTrue(readInStore.await(10, TimeUnit.SECONDS)); // the read found it in the store, and is held
        CompletableFuture<Void> removal = CompletableFuture.runAsync(() -> cached.removeManifest(MANIFEST.digest()));
        waitUntil(() -> rocks.manifest(MANIFEST.digest()).isEmpty()); // the removal reached the store
        finishRead.countDown();
        removal.get(10, TimeUnit.SECONDS);
        read.get(10, TimeUnit.SECONDS);
        holdReads = false;

        assertEquals(Optional.empty(), cached.hotManifest(MANIFEST.digest()), "memory");
        assertEquals(Optional.empty(), cached.manifest(MANIFEST.digest()), "read through");
    }

    private static void waitUntil(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "condition not met within 10 s");
            Thread.sleep(1);
        }
    }

    @Test
    void link_manyLongNames_memoryHoldsOnlyTheirBytesWorth() {
        // Links as a hostile upstream makes them: any digest under long repository names (issue 26).
        MetadataStore linksOnly = (MetadataStore) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {MetadataStore.class}, (proxy, method, args) -> method.getName().equals("linked") ? Boolean.TRUE : null);
        long bound = 1 << 20;
        CachedMetadataStore cached = new CachedMetadataStore(linksOnly, 1 << 20, bound);
        String longName = "org/" + "x".repeat(240);
        int total = 20_000;
        Digest[] digests = new Digest[total];
        for (int i = 0; i < total; i++) {
            digests[i] = Digest.sha256Of(Integer.toString(i).getBytes(StandardCharsets.UTF_8));
            cached.link("docker.io", longName + i, digests[i]);
        }
        int hot = 0;
        for (int i = 0; i < total; i++) {
            hot += cached.hotLinked("docker.io", longName + i, digests[i]) ? 1 : 0;
        }
        // Each link weighs at least its key's 330 characters: half the bound holds at most ~1,600.
        assertTrue(hot > 0 && hot <= (bound / 2) / 330, "links held in memory: " + hot + " of " + total);
        assertTrue(cached.linked("docker.io", longName + 0, digests[0]), "a link memory dropped is still read from the store");
    }
}
