package dev.pullthrough.e2e;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;

/** Plain HTTP requests at a registry or the proxy, for asserting statuses, headers and bytes. */
final class RegistryHttp {
    static final List<String> ALL_MANIFEST_TYPES = List.of(
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.v2+json");

    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    private RegistryHttp() {}

    static HttpResponse<byte[]> get(URI base, String path, String... headers) {
        return send(request(base, path, headers).GET().build());
    }

    static HttpResponse<byte[]> head(URI base, String path, String... headers) {
        return send(request(base, path, headers).method("HEAD", HttpRequest.BodyPublishers.noBody()).build());
    }

    static HttpResponse<byte[]> method(URI base, String method, String path) {
        return send(request(base, path).method(method, HttpRequest.BodyPublishers.noBody()).build());
    }

    /** A manifest request accepting every modern type, as skopeo and containerd send it. */
    static HttpResponse<byte[]> manifest(URI base, String repository, String reference) {
        return get(base, "/v2/" + repository + "/manifests/" + reference, "Accept", String.join(", ", ALL_MANIFEST_TYPES));
    }

    private static HttpRequest.Builder request(URI base, String path, String... headers) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(base + path));
        for (int i = 0; i < headers.length; i += 2) {
            builder.header(headers[i], headers[i + 1]);
        }
        return builder;
    }

    private static HttpResponse<byte[]> send(HttpRequest request) {
        try {
            return HTTP.send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new AssertionError(request.method() + " " + request.uri() + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
