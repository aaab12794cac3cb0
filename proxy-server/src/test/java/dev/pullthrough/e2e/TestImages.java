package dev.pullthrough.e2e;

import dev.pullthrough.oci.Digest;
import dev.pullthrough.oci.MediaTypes;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.zip.GZIPOutputStream;

/**
 * Builds random but valid images (real gzipped tar layers, a config whose diff_ids match, so the
 * Docker daemon can unpack them) and pushes them through the registry API of a real registry.
 */
final class TestImages {
    /** Which family of media types an image uses. */
    enum Format { DOCKER, OCI }

    /** A pushed manifest: where it is and the exact bytes and type the registry holds. */
    record Pushed(String repository, String tag, Digest digest, String mediaType, byte[] bytes, List<Digest> blobs) {}

    private final URI registry;
    private final HttpClient http = HttpClient.newHttpClient();
    private final Random random;
    private final String authorization;

    TestImages(URI registry, long seed) {
        this(registry, seed, null);
    }

    /** A pusher that sends {@code authorization} with every request (for registries behind auth). */
    TestImages(URI registry, long seed, String authorization) {
        this.registry = registry;
        this.random = new Random(seed);
        this.authorization = authorization;
    }

    /** A single-platform image with {@code layers} random layers of about {@code layerSize} bytes each. */
    Pushed pushImage(String repository, String tag, Format format, int layers, int layerSize) {
        return pushImage(repository, tag, format, layers, layerSize, "amd64");
    }

    Pushed pushImage(String repository, String tag, Format format, int layers, int layerSize, String architecture) {
        List<String> layerDescriptors = new ArrayList<>();
        List<String> diffIds = new ArrayList<>();
        List<Digest> blobs = new ArrayList<>();
        for (int i = 0; i < layers; i++) {
            byte[] tar = tar("layer" + i + "/data-" + Long.toHexString(random.nextLong()) + ".bin", randomBytes(layerSize));
            byte[] gz = gzip(tar);
            Digest layer = pushBlob(repository, gz);
            blobs.add(layer);
            diffIds.add("\"" + Digest.sha256Of(tar) + "\"");
            layerDescriptors.add(descriptor(format == Format.DOCKER
                    ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
                    : "application/vnd.oci.image.layer.v1.tar+gzip", gz.length, layer, ""));
        }
        byte[] config = ("{\"architecture\":\"" + architecture + "\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/bin/true\"]},"
                + "\"created\":\"2026-11-26T00:00:00Z\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":["
                + String.join(",", diffIds) + "]},\"history\":[]}").getBytes(StandardCharsets.UTF_8);
        Digest configDigest = pushBlob(repository, config);
        blobs.add(0, configDigest);
        String mediaType = format == Format.DOCKER ? MediaTypes.DOCKER_MANIFEST_V2 : MediaTypes.OCI_MANIFEST;
        String configType = format == Format.DOCKER
                ? "application/vnd.docker.container.image.v1+json" : "application/vnd.oci.image.config.v1+json";
        byte[] manifest = ("{\"schemaVersion\":2,\"mediaType\":\"" + mediaType + "\",\"config\":"
                + descriptor(configType, config.length, configDigest, "")
                + ",\"layers\":[" + String.join(",", layerDescriptors) + "]}").getBytes(StandardCharsets.UTF_8);
        return pushManifest(repository, tag, mediaType, manifest, blobs);
    }

    /** A two-platform (amd64, arm64) index or manifest list; the children are pushed by digest first. */
    Pushed pushIndex(String repository, String tag, Format format, int layers, int layerSize) {
        Pushed amd64 = pushImage(repository, "tmp-amd64", format, layers, layerSize, "amd64");
        Pushed arm64 = pushImage(repository, "tmp-arm64", format, layers, layerSize, "arm64");
        String mediaType = format == Format.DOCKER ? MediaTypes.DOCKER_MANIFEST_LIST : MediaTypes.OCI_INDEX;
        byte[] index = ("{\"schemaVersion\":2,\"mediaType\":\"" + mediaType + "\",\"manifests\":["
                + descriptor(amd64.mediaType(), amd64.bytes().length, amd64.digest(),
                        ",\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}") + ","
                + descriptor(arm64.mediaType(), arm64.bytes().length, arm64.digest(),
                        ",\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}") + "]}")
                .getBytes(StandardCharsets.UTF_8);
        List<Digest> blobs = new ArrayList<>(amd64.blobs());
        blobs.addAll(arm64.blobs());
        return pushManifest(repository, tag, mediaType, index, blobs);
    }

    Digest pushBlob(String repository, byte[] bytes) {
        Digest digest = Digest.sha256Of(bytes);
        HttpResponse<String> start = send(HttpRequest.newBuilder(registry.resolve("/v2/" + repository + "/blobs/uploads/"))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), 202, "starting an upload");
        String location = start.headers().firstValue("Location").orElseThrow();
        URI upload = registry.resolve(location);
        String separator = upload.getRawQuery() == null ? "?" : "&";
        send(HttpRequest.newBuilder(URI.create(upload + separator + "digest=" + digest))
                .header("Content-Type", "application/octet-stream")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(bytes)).build(), 201, "finishing an upload");
        return digest;
    }

    Pushed pushManifest(String repository, String reference, String mediaType, byte[] bytes, List<Digest> blobs) {
        send(HttpRequest.newBuilder(registry.resolve("/v2/" + repository + "/manifests/" + reference))
                .header("Content-Type", mediaType)
                .PUT(HttpRequest.BodyPublishers.ofByteArray(bytes)).build(), 201, "pushing a manifest");
        return new Pushed(repository, reference, Digest.sha256Of(bytes), mediaType, bytes, blobs);
    }

    byte[] randomBytes(int size) {
        byte[] bytes = new byte[size];
        random.nextBytes(bytes);
        return bytes;
    }

    private HttpResponse<String> send(HttpRequest request, int expected, String what) {
        if (authorization != null) {
            request = HttpRequest.newBuilder(request, (name, value) -> true).header("Authorization", authorization).build();
        }
        try {
            HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() != expected) {
                throw new AssertionError(what + " at " + request.uri() + " answered " + response.statusCode() + ": " + response.body());
            }
            return response;
        } catch (IOException e) {
            throw new AssertionError(what + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static String descriptor(String mediaType, long size, Digest digest, String extra) {
        return "{\"mediaType\":\"" + mediaType + "\",\"size\":" + size + ",\"digest\":\"" + digest + "\"" + extra + "}";
    }

    /** A POSIX ustar archive holding one regular file. */
    static byte[] tar(String name, byte[] content) {
        byte[] header = new byte[512];
        put(header, 0, name, 100);
        put(header, 100, "0000644", 8);
        put(header, 108, "0000000", 8);
        put(header, 116, "0000000", 8);
        put(header, 124, String.format("%011o", content.length), 12);
        put(header, 136, String.format("%011o", 1_700_000_000L), 12);
        for (int i = 148; i < 156; i++) {
            header[i] = ' ';
        }
        header[156] = '0';
        put(header, 257, "ustar", 6);
        put(header, 263, "00", 2);
        int sum = 0;
        for (byte b : header) {
            sum += b & 0xff;
        }
        put(header, 148, String.format("%06o", sum), 7);
        header[155] = ' ';
        int padding = (512 - content.length % 512) % 512;
        ByteArrayOutputStream out = new ByteArrayOutputStream(512 + content.length + padding + 1024);
        out.writeBytes(header);
        out.writeBytes(content);
        out.writeBytes(new byte[padding + 1024]);
        return out.toByteArray();
    }

    private static void put(byte[] header, int offset, String text, int max) {
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(bytes, 0, header, offset, Math.min(bytes.length, max));
    }

    static byte[] gzip(byte[] bytes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(bytes.length + 1024);
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(bytes);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return out.toByteArray();
    }
}
