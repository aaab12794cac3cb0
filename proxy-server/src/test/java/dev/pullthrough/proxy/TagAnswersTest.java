package dev.pullthrough.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.MediaTypes;
import dev.pullthrough.storage.meta.TagResolution;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TagAnswersTest {
    private static final Set<String> ALL_MODERN = Set.of(MediaTypes.OCI_INDEX, MediaTypes.DOCKER_MANIFEST_LIST,
            MediaTypes.OCI_MANIFEST, MediaTypes.DOCKER_MANIFEST_V2);
    /** dockerd, podman and skopeo also list schema 1 and application/json; containerd adds {@code *}/{@code *}. */
    private static final Set<String> DOCKERD = Set.of(MediaTypes.DOCKER_MANIFEST_V2, MediaTypes.DOCKER_MANIFEST_LIST,
            MediaTypes.OCI_INDEX, MediaTypes.OCI_MANIFEST, MediaTypes.DOCKER_MANIFEST_V1_SIGNED, "application/json");
    private static final Set<String> V2_ONLY = Set.of(MediaTypes.DOCKER_MANIFEST_V2);

    private static TagResolution resolution(char hex, String mediaType, long checkedAt) {
        return new TagResolution(Digest.parse("sha256:" + String.valueOf(hex).repeat(64)), mediaType, checkedAt);
    }

    // ---------------------------------------------------------------- choose

    @Test
    void choose_ownTypeListed_ownServesEveryFittingClient() {
        TagResolution own = resolution('a', MediaTypes.OCI_INDEX, 10);
        assertEquals(Optional.of(own), TagAnswers.choose(Optional.of(own), Optional.empty(), ALL_MODERN));
        assertEquals(Optional.of(own), TagAnswers.choose(Optional.of(own), Optional.empty(), DOCKERD));
        assertEquals(Optional.of(own), TagAnswers.choose(Optional.of(own), Optional.empty(), Set.of(MediaTypes.OCI_INDEX)));
    }

    @Test
    void choose_ownTypeNotListed_onlyThisAcceptSetsOwnAnswer() {
        TagResolution own = resolution('a', MediaTypes.DOCKER_MANIFEST_LIST, 10);
        TagResolution child = resolution('b', MediaTypes.DOCKER_MANIFEST_V2, 5);
        assertEquals(Optional.empty(), TagAnswers.choose(Optional.of(own), Optional.empty(), V2_ONLY));
        assertEquals(Optional.of(child), TagAnswers.choose(Optional.of(own), Optional.of(child), V2_ONLY));
        assertEquals(Optional.empty(), TagAnswers.choose(Optional.of(own), Optional.empty(), Set.of("*/*")));
    }

    @Test
    void choose_bothFit_moreRecentlyChecked() {
        TagResolution own = resolution('a', MediaTypes.DOCKER_MANIFEST_V2, 10);
        TagResolution newer = resolution('b', MediaTypes.DOCKER_MANIFEST_V2, 20);
        assertEquals(Optional.of(newer), TagAnswers.choose(Optional.of(own), Optional.of(newer), V2_ONLY));
        assertEquals(Optional.of(own), TagAnswers.choose(Optional.of(own), Optional.of(resolution('b', MediaTypes.DOCKER_MANIFEST_V2, 3)),
                V2_ONLY));
    }

    // ---------------------------------------------------------------- what an answer tells

    @Test
    void isOwn_indexAlways() {
        assertTrue(TagAnswers.isOwn(MediaTypes.OCI_INDEX, Set.of()));
        assertTrue(TagAnswers.isOwn(MediaTypes.DOCKER_MANIFEST_LIST, Set.of("*/*")));
    }

    @Test
    void isOwn_imageOnlyWhenBothListTypesAndItsTypeListed() {
        assertTrue(TagAnswers.isOwn(MediaTypes.OCI_MANIFEST, ALL_MODERN));
        assertTrue(TagAnswers.isOwn(MediaTypes.DOCKER_MANIFEST_V2, DOCKERD));
        // a list's platform child looks like this to a client listing no (or one) list type
        assertFalse(TagAnswers.isOwn(MediaTypes.DOCKER_MANIFEST_V2, V2_ONLY));
        assertFalse(TagAnswers.isOwn(MediaTypes.DOCKER_MANIFEST_V2,
                Set.of(MediaTypes.DOCKER_MANIFEST_V2, MediaTypes.DOCKER_MANIFEST_LIST)));
        // converted for a client that did not list it
        assertFalse(TagAnswers.isOwn(MediaTypes.DOCKER_MANIFEST_V2,
                Set.of(MediaTypes.OCI_INDEX, MediaTypes.DOCKER_MANIFEST_LIST, MediaTypes.OCI_MANIFEST)));
    }

    @Test
    void keepForAcceptSet_whenChooseWouldNotFindItAsOwn() {
        assertFalse(TagAnswers.keepForAcceptSet(MediaTypes.OCI_INDEX, ALL_MODERN));
        assertTrue(TagAnswers.keepForAcceptSet(MediaTypes.OCI_INDEX, Set.of("*/*")), "own, but its type is not listed");
        assertTrue(TagAnswers.keepForAcceptSet(MediaTypes.DOCKER_MANIFEST_V2, V2_ONLY));
    }
}
