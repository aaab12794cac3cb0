package dev.pullthrough.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.management.ThreadMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** Issue 26: reading a manifest is bounded in work and memory, whatever the upstream sent. */
class ManifestReaderTest {
    private static final String LAYER = "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:"
            + "a".repeat(64) + "\",\"size\":1}";
    private static final ThreadMXBean THREADS = (ThreadMXBean) ManagementFactory.getThreadMXBean();

    // ---------------------------------------------------------------- the work bound

    @Test
    void parse_millionEmptyObjects_refusedNamingTheTokenLimit_withoutBuildingThem() {
        // The hostile manifest of issue 26: ~3.9 MiB, valid JSON, 1.4 million empty objects.
        StringBuilder text = new StringBuilder("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"x\":[");
        for (int i = 0; i < 1_400_000; i++) {
            text.append(i == 0 ? "{}" : ",{}");
        }
        byte[] bytes = text.append("]}").toString().getBytes(StandardCharsets.UTF_8);

        Measured<InvalidManifestException> refused = measured(
                () -> assertThrows(InvalidManifestException.class, () -> ManifestContent.parse(bytes)));

        assertTrue(refused.value().getMessage().contains("more than 200000 JSON tokens"), refused.value().getMessage());
        assertTrue(refused.allocated() < 4L << 20, "the refusal allocated " + refused.allocated() + " bytes");
    }

    @Test
    void parse_moreDescriptorsThanTheLimit_refusedNamingIt() {
        InvalidManifestException e = assertThrows(InvalidManifestException.class,
                () -> ManifestContent.parse(imageWithLayers(ManifestReader.MAX_DESCRIPTORS)));
        assertTrue(e.getMessage().contains("more than 10000 descriptors"), e.getMessage());
    }

    @Test
    void parse_descriptorsUpToTheLimit_read() {
        // the config counts too: config + 9,999 layers is 10,000 descriptors
        assertEquals(ManifestReader.MAX_DESCRIPTORS - 1,
                ManifestContent.parse(imageWithLayers(ManifestReader.MAX_DESCRIPTORS - 1)).layers().size());
    }

    // ---------------------------------------------------------------- what is skipped costs nothing

    @Test
    void parse_fourMiBAnnotation_readWithoutCopyingIt() {
        // The ordinary large manifest of issue 26: its size is one annotation, which nothing reads.
        byte[] bytes = ("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":" + LAYER
                + ",\"layers\":[" + LAYER + "],\"annotations\":{\"big\":\"" + "x".repeat(4 << 20) + "\"}}")
                .getBytes(StandardCharsets.UTF_8);

        Measured<ManifestContent> read = measured(() -> ManifestContent.parse(bytes));

        assertEquals(1, read.value().layers().size());
        assertEquals(2, read.value().schemaVersion());
        assertTrue(read.allocated() < 1L << 20, "reading allocated " + read.allocated() + " bytes");
    }

    @Test
    void parse_hugeDigestString_refusedNotBuffered() {
        byte[] bytes = ("{\"schemaVersion\":2,\"layers\":[{\"digest\":\"sha256:" + "a".repeat(4 << 20) + "\"}]}")
                .getBytes(StandardCharsets.UTF_8);
        InvalidManifestException e = assertThrows(InvalidManifestException.class, () -> ManifestContent.parse(bytes));
        assertTrue(e.getMessage().contains("limit"), e.getMessage());
    }

    // ---------------------------------------------------------------- as the tree reader read it

    @Test
    void parse_fieldsInAnyOrder_numbersAsText_unknownFieldsSkipped() {
        ManifestContent content = ManifestContent.parse(("{\"layers\":[{\"size\":\"12\",\"x\":{\"y\":[1,{}]},\"digest\":\"sha256:"
                + "b".repeat(64) + "\",\"urls\":[\"https://example.invalid/l\"]}],\"extra\":[[[]]],\"schemaVersion\":2.0}")
                .getBytes(StandardCharsets.UTF_8));
        assertEquals(2, content.schemaVersion());
        assertEquals(12, content.layers().get(0).size());
        assertEquals("https://example.invalid/l", content.layers().get(0).urls().get(0));
        assertTrue(content.mediaType().isEmpty());
        assertThrows(InvalidManifestException.class, () -> ManifestContent.parse(new byte[0]));
        assertThrows(InvalidManifestException.class, () -> ManifestContent.parse("{\"layers\":[1]}".getBytes(StandardCharsets.UTF_8)));
    }

    // ---------------------------------------------------------------- helpers

    private static byte[] imageWithLayers(int layers) {
        StringBuilder text = new StringBuilder("{\"schemaVersion\":2,\"config\":" + LAYER + ",\"layers\":[");
        for (int i = 0; i < layers; i++) {
            text.append(i == 0 ? "" : ",").append(LAYER);
        }
        return text.append("]}").toString().getBytes(StandardCharsets.UTF_8);
    }

    private record Measured<T>(T value, long allocated) {}

    /** What {@code work} returned and how many bytes this thread allocated doing it. */
    private static <T> Measured<T> measured(Supplier<T> work) {
        long id = Thread.currentThread().getId();
        long before = THREADS.getThreadAllocatedBytes(id);
        T value = work.get();
        return new Measured<>(value, THREADS.getThreadAllocatedBytes(id) - before);
    }
}
