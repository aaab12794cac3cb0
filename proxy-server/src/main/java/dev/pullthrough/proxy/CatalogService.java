package dev.pullthrough.proxy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pullthrough.registry.api.Route;
import dev.pullthrough.storage.meta.MetadataStore;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.TreeSet;

/**
 * {@code GET /v2/_catalog}: the repositories this proxy holds something of (a manifest or blob linked
 * to it still cached: not one whose content was all evicted or purged), as the reference
 * registry's proxy mode lists them, paged with {@code n} and {@code last} and a {@code Link} to the
 * next page. Answered from the cache alone; names are as clients pull them (with the upstream's
 * prefix, except for the default upstream). Blocking (a scan of the metadata store).
 */
public final class CatalogService {
    /** Page size when the client gives none, and the most one page holds. */
    static final int DEFAULT_PAGE = 100;
    static final int MAX_PAGE = 1000;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final MetadataStore metadata;
    private final String defaultUpstream;

    public CatalogService(MetadataStore metadata, String defaultUpstream) {
        this.metadata = metadata;
        this.defaultUpstream = defaultUpstream;
    }

    public ProxyResponse list(Route.Catalog route) {
        TreeSet<String> names = new TreeSet<>();
        metadata.forEachRepository((upstream, repository) -> {
            // Linked is not held: links outlive eviction (issue 29), so list only what still has bytes here.
            if (metadata.holdsAnything(upstream, repository)) {
                names.add(upstream.equals(defaultUpstream) ? repository : upstream + "/" + repository);
            }
        });
        int n = Math.min(route.n().orElse(DEFAULT_PAGE), MAX_PAGE);
        NavigableSet<String> after = route.last().map(last -> names.tailSet(last, false)).orElse(names);
        List<String> page = after.stream().limit(n).toList();
        Map<String, String> headers = Map.of();
        if (n > 0 && after.size() > page.size()) {
            String last = page.get(page.size() - 1);
            headers = Map.of("Link", "</v2/_catalog?last=" + URLEncoder.encode(last, StandardCharsets.UTF_8) + "&n=" + n
                    + ">; rel=\"next\"");
        }
        try {
            byte[] body = JSON.writeValueAsBytes(Map.of("repositories", page));
            return new ProxyResponse.Json(200, "application/json", body, headers);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a list of names always serialises", e);
        }
    }
}
