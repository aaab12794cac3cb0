package dev.pullthrough.registry.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.pullthrough.oci.Reference;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import java.util.stream.Stream;

class RouteParserTest {
    private static final String DIGEST = "sha256:" + "a".repeat(64);

    private static Route route(String uri) {
        RouteParser.Parsed parsed = RouteParser.parse("GET", uri);
        return parsed.route().orElseThrow(() -> new AssertionError("refused: " + parsed.error()));
    }

    private static ApiError error(String method, String uri) {
        return RouteParser.parse(method, uri).error().orElseThrow(() -> new AssertionError("accepted " + uri));
    }

    // ---------------------------------------------------------------- routes

    @Test
    void parse_base_withAndWithoutSlash() {
        assertInstanceOf(Route.Base.class, route("/v2/"));
        assertInstanceOf(Route.Base.class, route("/v2"));
    }

    @Test
    void parse_manifestOfMultiComponentName_splitsOnLastManifests() {
        Route.Manifest m = (Route.Manifest) route("/v2/a/b/c/manifests/v1.2");
        assertEquals("a/b/c", m.name().value());
        assertEquals(new Reference.Tag("v1.2"), m.reference());
    }

    @Test
    void parse_repositoryNamedManifests_splitsOnLastOccurrence() {
        Route.Manifest m = (Route.Manifest) route("/v2/foo/manifests/manifests/latest");
        assertEquals("foo/manifests", m.name().value());
        assertEquals("latest", m.reference().toString());
    }

    @Test
    void parse_blobByDigest() {
        Route.Blob b = (Route.Blob) route("/v2/library/alpine/blobs/" + DIGEST);
        assertEquals("library/alpine", b.name().value());
        assertEquals(DIGEST, b.digest().toString());
    }

    @Test
    void parse_tagsListWithPagination() {
        Route.Tags t = (Route.Tags) route("/v2/org/app/tags/list?n=10&last=v1");
        assertEquals("org/app", t.name().value());
        assertEquals(Optional.of(10), t.n());
        assertEquals(Optional.of("v1"), t.last());
    }

    @Test
    void parse_referrersWithArtifactType() {
        Route.Referrers r = (Route.Referrers) route("/v2/org/app/referrers/" + DIGEST + "?artifactType=application%2Fvnd.example");
        assertEquals(Optional.of("application/vnd.example"), r.artifactType());
    }

    @Test
    void parse_manifestBySha512Digest() {
        Route.Manifest m = (Route.Manifest) route("/v2/app/manifests/sha512:" + "0".repeat(128));
        assertEquals("sha512", m.reference().digest().orElseThrow().algorithm());
    }

    // ---------------------------------------------------------------- refusals

    @ParameterizedTest
    @ValueSource(strings = {"PUT", "POST", "PATCH", "DELETE"})
    void parse_pushMethods_unsupported(String method) {
        ApiError e = error(method, "/v2/app/manifests/latest");
        assertEquals(ErrorCode.UNSUPPORTED, e.code());
        assertEquals(405, e.status());
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "/v2/Upper/manifests/latest",
        "/v2/a/../b/manifests/latest",
        "/v2/a/%2e%2e/b/manifests/latest",
        "/v2/a//b/manifests/latest",
        "/v2/-a/manifests/latest",
        "/v2/a%20b/manifests/latest"})
    void parse_invalidNames_nameInvalid(String uri) {
        ApiError e = error("GET", uri);
        assertEquals(ErrorCode.NAME_INVALID, e.code());
        assertEquals(400, e.status());
    }

    @Test
    void parse_nameLongerThan255_nameInvalid() {
        String name = "a".repeat(128) + "/" + "b".repeat(127);
        assertEquals(ErrorCode.NAME_INVALID, error("GET", "/v2/" + name + "/manifests/latest").code());
        route("/v2/" + "a".repeat(127) + "/" + "b".repeat(127) + "/manifests/latest");
    }

    static Stream<String> invalidDigests() {
        return Stream.of("sha256:abc", "md5:d41d8cd98f00b204e9800998ecf8427e", "sha256:" + "g".repeat(64),
                "sha256:" + "a".repeat(65), "sha512:" + "a".repeat(64), "sha256" + "a".repeat(64), ":" + "a".repeat(64));
    }

    @ParameterizedTest
    @MethodSource("invalidDigests")
    void parse_invalidDigests_digestInvalid(String digest) {
        ApiError e = error("GET", "/v2/app/blobs/" + digest);
        assertEquals(ErrorCode.DIGEST_INVALID, e.code());
        assertEquals(400, e.status());
    }

    @Test
    void parse_manifestReferenceNeitherTagNorDigest_manifestUnknown() {
        for (String reference : new String[] {".INVALID_MANIFEST_NAME", ".hidden", "t".repeat(129), "sha256:abc",
                "sha256:" + "A".repeat(64), "md5:00"}) {
            ApiError e = error("GET", "/v2/app/manifests/" + reference);
            assertEquals(ErrorCode.MANIFEST_UNKNOWN, e.code(), reference);
            assertEquals(404, e.status(), reference);
        }
    }

    @Test
    void parse_outsideV2_notFound() {
        assertEquals(404, error("GET", "/v1/app").status());
        assertEquals(404, error("GET", "/v2/app").status());
    }

    @Test
    void parse_malformedPercentEscape_badRequest() {
        assertEquals(400, error("GET", "/v2/app%zz/manifests/latest").status());
    }
}
