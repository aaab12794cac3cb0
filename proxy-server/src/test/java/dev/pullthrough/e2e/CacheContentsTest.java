package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import dev.pullthrough.oci.Digest;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the cache holds ({@code GET /cache/images}, {@code list}) and purging it ({@code DELETE
 * /cache/images}, {@code purge}), with the real registry counting what the proxy fetches again.
 */
class CacheContentsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path temp;

    private static JsonNode json(HttpResponse<byte[]> response) throws Exception {
        return JSON.readTree(response.body());
    }

    /** Pulls the image through the proxy as a client does: the manifest (children too), then every blob. */
    private static void pull(URI proxy, Pushed image, List<Pushed> children) {
        assertEquals(200, RegistryHttp.manifest(proxy, image.repository(), image.tag()).statusCode());
        for (Pushed child : children) {
            assertEquals(200, RegistryHttp.manifest(proxy, image.repository(), child.digest().toString()).statusCode());
        }
        for (Digest blob : image.blobs()) {
            assertEquals(200, RegistryHttp.get(proxy, "/v2/" + image.repository() + "/blobs/" + blob).statusCode());
        }
    }

    private static long bytesOf(URI upstream, String repository, List<Digest> blobs) {
        long sum = 0;
        for (Digest blob : blobs) {
            sum += RegistryHttp.get(upstream, "/v2/" + repository + "/blobs/" + blob).body().length;
        }
        return sum;
    }

    @Test
    void listed_withTagsSizeAndPulls_thenPurgedByTagAndRepository_onlyWhatNoOtherImageUses() throws Exception {
        try (ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), upstream.url())) {
            TestImages images = new TestImages(upstream.url(), 61);
            Pushed v2 = images.pushImage("team/app", "v2", Format.DOCKER, 2, 8 * 1024);
            Pushed v3 = images.pushImage("team/app", "v3", Format.OCI, 1, 8 * 1024);
            Pushed multi = images.pushIndex("team/multi", "v1", Format.OCI, 1, 4 * 1024);
            pull(proxy.url(), v2, List.of());
            pull(proxy.url(), v2, List.of());
            pull(proxy.url(), v3, List.of());
            assertEquals(200, RegistryHttp.method(proxy.url(), "POST", "/prefetch?image=team/multi:v1").statusCode());

            JsonNode listed = json(RegistryHttp.get(proxy.url(), "/cache/images")).get("images");
            assertEquals(3, listed.size(), listed.toString());
            JsonNode app2 = listed.get(0);
            assertEquals("team/app", app2.get("repository").asText());
            assertEquals("[\"v2\"]", app2.get("tags").toString());
            assertEquals(v2.digest().toString(), app2.get("digest").asText());
            assertEquals(v2.mediaType(), app2.get("mediaType").asText());
            assertEquals(v2.bytes().length + bytesOf(upstream.url(), "team/app", v2.blobs()), app2.get("size").asLong());
            assertEquals(2, app2.get("pulls").asLong(), "two manifest GETs");
            assertTrue(app2.get("lastPulled").asText().endsWith("Z"), app2.toString());
            assertEquals("v3", listed.get(1).get("tags").get(0).asText());
            JsonNode index = listed.get(2);
            assertEquals(multi.digest().toString(), index.get("digest").asText(), "the index, not its platform images");
            assertEquals(0, index.get("pulls").asLong(), "a prefetch is not a pull");
            JsonNode onlyMulti = json(RegistryHttp.get(proxy.url(), "/cache/images?repository=team/multi")).get("images");
            assertEquals(1, onlyMulti.size());

            // A tag: its manifest and the blobs only it uses go; v3 keeps its own.
            JsonNode purged = json(RegistryHttp.method(proxy.url(), "DELETE", "/cache/images?image=team/app:v2")).get("purged").get(0);
            assertEquals(1, purged.get("tags").asInt());
            assertEquals(1, purged.get("manifests").asInt());
            assertEquals(v2.blobs().size(), purged.get("blobs").asInt());
            assertEquals(app2.get("size").asLong(), purged.get("bytes").asLong());
            JsonNode left = json(RegistryHttp.get(proxy.url(), "/cache/images")).get("images");
            assertEquals(List.of(v3.digest().toString(), multi.digest().toString()), digests(left));

            long manifestGets = upstream.requests("GET", "/v2/team/app/manifests/v2");
            long v3BlobGets = upstream.requests("GET", "/v2/team/app/blobs/" + v3.blobs().get(0));
            List<Long> v2BlobGets = new ArrayList<>();
            for (Digest blob : v2.blobs()) {
                v2BlobGets.add(upstream.requests("GET", "/v2/team/app/blobs/" + blob));
            }
            pull(proxy.url(), v2, List.of());
            pull(proxy.url(), v3, List.of());
            assertEquals(manifestGets + 1, upstream.requests("GET", "/v2/team/app/manifests/v2"), "the purged tag is fetched again");
            for (int i = 0; i < v2.blobs().size(); i++) {
                assertEquals(v2BlobGets.get(i) + 1, upstream.requests("GET", "/v2/team/app/blobs/" + v2.blobs().get(i)),
                        "a purged blob is downloaded again");
            }
            assertEquals(v3BlobGets, upstream.requests("GET", "/v2/team/app/blobs/" + v3.blobs().get(0)), "v3 stayed cached");

            // A whole repository: the index, its platform images and their blobs.
            JsonNode repository = json(RegistryHttp.method(proxy.url(), "DELETE", "/cache/images?image=team/multi")).get("purged").get(0);
            assertEquals(3, repository.get("manifests").asInt());
            assertEquals(4, repository.get("blobs").asInt(), "two platforms: a config and a layer each");
            assertEquals(List.of(v2.digest().toString(), v3.digest().toString()),
                    digests(json(RegistryHttp.get(proxy.url(), "/cache/images")).get("images")));

            HttpResponse<byte[]> nothingNamed = RegistryHttp.method(proxy.url(), "DELETE", "/cache/images");
            assertEquals(400, nothingNamed.statusCode());
            assertTrue(json(nothingNamed).get("error").asText().contains("?image="));
            assertEquals(400, RegistryHttp.method(proxy.url(), "DELETE", "/cache/images?image=Team/BAD").statusCode());
        }
    }

    @Test
    void listAndPurgeCommands_onTheDataDirectory() throws Exception {
        Path data = temp.resolve("proxy");
        try (ReferenceRegistry upstream = ReferenceRegistry.start(temp.resolve("upstream"))) {
            TestImages images = new TestImages(upstream.url(), 62);
            Pushed app = images.pushImage("team/app", "v1", Format.DOCKER, 1, 4 * 1024);
            Pushed tool = images.pushImage("tools/cli", "2.0", Format.OCI, 1, 4 * 1024);
            try (ProxyUnderTest proxy = ProxyUnderTest.start(data, upstream.url())) {
                pull(proxy.url(), app, List.of());
                pull(proxy.url(), tool, List.of());
            }

            Processes.Result list = ProxyProcess.command(data, upstream.url(), temp.resolve("list.log"), "list", "team/*");
            assertEquals(0, list.exitCode(), list.output());
            assertTrue(list.output().contains("team/app") && list.output().contains("v1"), list.output());
            assertTrue(!list.output().contains("tools/cli") && list.output().contains("1 images"), list.output());

            Processes.Result unused = ProxyProcess.command(data, upstream.url(), temp.resolve("unused.log"), "purge",
                    "--unused-for", "30d");
            assertEquals(0, unused.exitCode(), unused.output());
            assertTrue(unused.output().contains("0 purged"), "both were pulled just now: " + unused.output());

            Processes.Result purge = ProxyProcess.command(data, upstream.url(), temp.resolve("purge.log"), "purge", "tools/cli:2.0");
            assertEquals(0, purge.exitCode(), purge.output());
            assertTrue(purge.output().contains("purged tools/cli:2.0: 1 tags, 1 manifests, 2 blobs"), purge.output());
            Processes.Result after = ProxyProcess.command(data, upstream.url(), temp.resolve("after.log"), "list");
            assertTrue(after.output().contains("team/app") && !after.output().contains("tools/cli"), after.output());
        }
    }

    private static List<String> digests(JsonNode images) {
        List<String> digests = new ArrayList<>();
        images.forEach(image -> digests.add(image.get("digest").asText()));
        return digests;
    }
}
