package dev.pullthrough.registry.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class AcceptHeaderTest {
    @Test
    void normalise_severalHeadersAndCommaLists_sameKey() {
        String separate = AcceptHeader.normalise(List.of(
                "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.v2+json"));
        String joined = AcceptHeader.normalise(List.of(
                "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json"));
        assertEquals(separate, joined);
        assertEquals("application/vnd.docker.distribution.manifest.v2+json,application/vnd.oci.image.index.v1+json", joined);
    }

    @Test
    void normalise_parametersAndQValues_droppedButQZeroRefuses() {
        assertEquals("application/vnd.oci.image.manifest.v1+json", AcceptHeader.normalise(List.of(
                "application/vnd.oci.image.manifest.v1+json; q=0.5, application/vnd.oci.image.index.v1+json;q=0")));
    }

    @Test
    void normalise_noAccept_emptyKey() {
        assertEquals("", AcceptHeader.normalise(List.of()));
    }
}
