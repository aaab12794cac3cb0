import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Pushes COUNT random blobs of SIZE bytes into a registry over a few keep-alive connections (a curl
 * process per blob would take minutes for the thousands the small-blob scenario needs) and writes
 * their digests, one per line.
 * Usage: java PushBlobs.java push BASE REPO COUNT SIZE SEED DIGESTS
 */
public class PushBlobs {
    /** The registry handles an upload in several file operations: pushing on a few connections at once is faster. */
    private static final int PUSHERS = 4;

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "push" -> push(URI.create(args[1]), args[2], Integer.parseInt(args[3]), Integer.parseInt(args[4]),
                    Long.parseLong(args[5]), Path.of(args[6]));
            default -> throw new IllegalArgumentException("usage: push BASE REPO COUNT SIZE SEED DIGESTS");
        }
    }

    private static void push(URI base, String repo, int count, int size, long seed, Path digests) throws Exception {
        String[] pushed = new String[count];
        ExecutorService pushers = Executors.newFixedThreadPool(PUSHERS);
        List<Future<Void>> work = new ArrayList<>();
        for (int p = 0; p < PUSHERS; p++) {
            int first = p;
            work.add(pushers.submit(() -> {
                HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
                for (int i = first; i < count; i += PUSHERS) {
                    byte[] blob = new byte[size];
                    new Random(seed * 1_000_003L + i).nextBytes(blob);
                    pushed[i] = pushOne(http, base, repo, blob);
                }
                return null;
            }));
        }
        for (Future<Void> done : work) {
            done.get();
        }
        pushers.shutdown();
        Files.write(digests, List.of(pushed), StandardCharsets.UTF_8);
    }

    private static String pushOne(HttpClient http, URI base, String repo, byte[] blob) throws Exception {
        String digest = digestOf(blob);
        HttpResponse<Void> started = http.send(HttpRequest.newBuilder(base.resolve("/v2/" + repo + "/blobs/uploads/"))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding());
        URI upload = base.resolve(started.headers().firstValue("Location").orElseThrow());
        String separator = upload.getQuery() == null ? "?" : "&";
        HttpResponse<Void> put = http.send(HttpRequest.newBuilder(URI.create(upload + separator + "digest=" + digest))
                .header("Content-Type", "application/octet-stream").PUT(HttpRequest.BodyPublishers.ofByteArray(blob)).build(),
                HttpResponse.BodyHandlers.discarding());
        if (put.statusCode() != 201) {
            throw new IOException("push of " + digest + " answered " + put.statusCode());
        }
        return digest;
    }

    private static String digestOf(byte[] bytes) throws Exception {
        return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }
}
