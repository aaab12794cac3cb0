package dev.pullthrough.proxy;

import dev.pullthrough.registry.api.ErrorCode;
import dev.pullthrough.registry.api.Route;
import java.io.IOException;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/** Tag lists and referrers: small JSON documents passed through from the upstream, not cached yet. */
public final class ListingService {
    private final boolean offline;

    public ListingService(boolean offline) {
        this.offline = offline;
    }

    public ProxyResponse tags(Target target, Route.Tags route) {
        StringBuilder query = new StringBuilder("tags/list");
        char sep = '?';
        if (route.n().isPresent()) {
            query.append(sep).append("n=").append(route.n().get());
            sep = '&';
        }
        if (route.last().isPresent()) {
            query.append(sep).append("last=").append(URLEncoder.encode(route.last().get(), StandardCharsets.UTF_8));
        }
        return fetch(target, query.toString(), "tags", "tag list of " + target.repository(), ErrorCode.NAME_UNKNOWN);
    }

    public ProxyResponse referrers(Target target, Route.Referrers route) {
        String query = "referrers/" + route.digest()
                + route.artifactType().map(t -> "?artifactType=" + URLEncoder.encode(t, StandardCharsets.UTF_8)).orElse("");
        return fetch(target, query, "referrers", "referrers of " + route.digest(), ErrorCode.MANIFEST_UNKNOWN);
    }

    private ProxyResponse fetch(Target target, String pathAndQuery, String kind, String what, ErrorCode notFound) {
        if (offline) {
            return UpstreamErrors.error(notFound, what + " cannot be listed while the proxy is offline");
        }
        try {
            HttpResponse<byte[]> response = target.upstream().getJson(target.repository(), pathAndQuery, kind);
            if (response.statusCode() != 200) {
                return UpstreamErrors.forStatus(response.statusCode(), response.headers(), notFound, what, target.upstreamName());
            }
            Map<String, String> headers = new HashMap<>();
            response.headers().firstValue("Link").ifPresent(link -> headers.put("Link", link));
            response.headers().firstValue("OCI-Filters-Applied").ifPresent(f -> headers.put("OCI-Filters-Applied", f));
            String type = response.headers().firstValue("Content-Type").orElse("application/json");
            return new ProxyResponse.Json(200, type, response.body(), headers);
        } catch (IOException e) {
            return UpstreamErrors.forFailure(e, what, target.upstreamName());
        }
    }
}
