package dev.pullthrough.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class ManifestContentTest {
    private static final String A = "sha256:" + "a".repeat(64);
    private static final String B = "sha256:" + "b".repeat(64);
    private static final String C = "sha256:" + "c".repeat(64);

    private static byte[] json(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void parse_index_childrenInOrder() {
        ManifestContent content = ManifestContent.parse(json("{\"schemaVersion\":2,\"manifests\":["
                + "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" + A + "\",\"size\":7},"
                + "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" + B + "\",\"size\":9}]}"));
        assertEquals(List.of(Digest.parse(A), Digest.parse(B)), content.references());
        assertEquals(7, content.manifests().get(0).size());
        assertTrue(content.config().isEmpty());
        assertTrue(content.blobs().isEmpty());
    }

    @Test
    void parse_image_configThenLayers_foreignLayersNotBlobs() {
        ManifestContent content = ManifestContent.parse(json("{\"schemaVersion\":2,"
                + "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" + A + "\",\"size\":2},"
                + "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"" + B + "\",\"size\":3},"
                + "{\"mediaType\":\"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\",\"digest\":\"" + C
                + "\",\"size\":4,\"urls\":[\"https://example.invalid/layer\"]}]}"));
        assertEquals(List.of(Digest.parse(A), Digest.parse(B), Digest.parse(C)), content.references());
        assertEquals(List.of(Digest.parse(A), Digest.parse(B)), content.blobs().stream().map(Descriptor::digest).toList());
    }

    @Test
    void parse_garbage_refusedWithReason() {
        assertThrows(InvalidManifestException.class, () -> ManifestContent.parse(json("<html>")));
        assertThrows(InvalidManifestException.class, () -> ManifestContent.parse(json("[1,2]")));
        assertThrows(InvalidManifestException.class, () -> ManifestContent.parse(json("{\"layers\":{}}")));
        InvalidManifestException e = assertThrows(InvalidManifestException.class,
                () -> ManifestContent.parse(json("{\"layers\":[{\"digest\":\"md5:00\"}]}")));
        assertTrue(e.getMessage().contains("invalid digest"), e.getMessage());
        assertThrows(InvalidManifestException.class, () -> ManifestContent.parse(json("{\"manifests\":[{\"size\":1}]}")));
    }
}
