package dev.pullthrough.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pullthrough.e2e.TestImages.Format;
import dev.pullthrough.e2e.TestImages.Pushed;
import dev.pullthrough.oci.Digest;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The status page as people read it (issue 29), in headless Chromium: times relative ("12 s ago")
 * with the local date and time on hover, counts with their nouns in the right number ("1 hit",
 * "1 cached image"), time cells that do not wrap.
 */
class StatusPageWordingTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** A time cell as the page renders it: its local date and time in the title, the time relative in the text. */
    private static final Pattern TIME_CELL = Pattern.compile("<td class=\"when\" title=\"([^\"]+)\">\\d+ (s|min) ago</td>");

    @TempDir
    Path temp;

    @Test
    void statusPage_relativeTimesWithLocalTitles_andSingulars() throws Exception {
        try (ReferenceRegistry hub = ReferenceRegistry.start(temp.resolve("hub"));
             FaultyUpstream broken = new FaultyUpstream()
                     .route("GET /v2/team/broken/manifests/v1", FaultyUpstream.fixed(503, "application/json", "{}".getBytes(), Map.of()));
             ProxyUnderTest proxy = ProxyUnderTest.start(temp.resolve("proxy"), "upstreams:\n"
                     + "  - name: docker.io\n    url: " + hub.url() + "\n    default: true\n"
                     + "  - name: broken\n    url: " + broken.url() + "\n")) {
            Pushed image = new TestImages(hub.url(), 129).pushImage("team/app", "v1", Format.OCI, 1, 4096);
            for (int pull = 0; pull < 2; pull++) { // cold, then warm: one manifest hit
                assertEquals(200, RegistryHttp.manifest(proxy.url(), "team/app", "v1").statusCode());
                for (Digest blob : image.blobs()) {
                    assertEquals(200, RegistryHttp.get(proxy.url(), "/v2/team/app/blobs/" + blob).statusCode());
                }
            }
            assertTrue(RegistryHttp.manifest(proxy.url(), "broken/team/broken", "v1").statusCode() >= 500);
            JsonNode status = JSON.readTree(RegistryHttp.get(proxy.url(), "/status.json").body());
            assertEquals(1, status.get("hitRatio").get("manifest").get("hits").asLong());
            assertEquals(2, status.get("hitRatio").get("manifest").get("misses").asLong());
            assertEquals(1, status.get("cachedImages").asLong());
            Instant pulled = Instant.parse(status.get("largest").get(0).get("lastPulled").asText());

            String dom = Chromium.dumpDom(proxy.url() + "/", temp.resolve("chromium"), 3000).output();
            assertFalse(dom.contains("Uncaught"), "a script error: " + dom);
            assertTrue(dom.contains("1 hit, 2 misses"), "one hit, in the singular: " + dom);
            assertTrue(dom.contains("id=\"cached-images\">1 cached image<"), "one cached image, in the singular: " + dom);

            // The largest image's last pull and the upstream error's time: seconds ago, each with its
            // local date and time (this machine's zone is Chromium's) on hover.
            List<String> titles = new ArrayList<>();
            Matcher cells = TIME_CELL.matcher(dom);
            while (cells.find()) {
                titles.add(cells.group(1));
            }
            assertEquals(2, titles.size(), "two time cells, 'N s ago' (or 'N min ago' on a slow machine) with a title: " + dom);
            String year = Integer.toString(pulled.atZone(ZoneId.systemDefault()).getYear());
            for (String title : titles) {
                assertTrue(title.contains(year) && title.matches(".*\\d{1,2}:\\d{2}:\\d{2}.*"), "a local date and time: " + title);
            }
            String largest = dom.substring(dom.indexOf("<tbody id=\"largest\">"), dom.indexOf("</tbody>", dom.indexOf("<tbody id=\"largest\">")));
            assertFalse(largest.contains(pulled.toString().substring(0, 16)), "no ISO instant in the table: " + largest);
            assertTrue(dom.contains(".when { white-space: nowrap; }"), "time cells do not wrap: " + dom);
        }
    }
}
