package dev.pullthrough.e2e;

import dev.pullthrough.e2e.TestImages.Pushed;
import dev.pullthrough.oci.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntPredicate;

/**
 * Client loops pulling images through one address (the load balancer) until stopped, each with its
 * own HTTP/1.1 client: a pull is the manifest by tag and then every blob, each body hashed as it
 * arrives and checked against its digest. An image released while they run is pulled by every
 * client that may take it before it goes on round robin over the others, so a released image is
 * cold for the cluster while many clients ask for it. Records every request and how it ended.
 */
final class PullingClients {
    /** How one request ended: its bytes verified, failed visibly (error, short body, not 200), or wrong bytes. */
    enum Outcome { RIGHT, FAILED, WRONG }

    /** One request of a pull: which replica answered it (nginx's last try), when it ran, how it ended and why. */
    record Exchange(int client, String path, String replica, boolean retriedByBalancer, long startedNanos, long endedNanos,
                    Outcome outcome, String detail) {
        /** Whether it ran at some moment from {@code from} to {@code to} (nanos). */
        boolean inFlightWithin(long from, long to) {
            return startedNanos <= to && endedNanos >= from;
        }

        /** When it ran against each of {@code moments} (nanos by name), for a failure message. */
        String describeAgainst(java.util.Map<String, Long> moments) {
            return moments.entrySet().stream().map(m -> m.getKey() + ": " + (startedNanos - m.getValue()) / 1_000_000
                    + " to " + (endedNanos - m.getValue()) / 1_000_000 + " ms").toList().toString();
        }

        @Override
        public String toString() {
            return outcome + " " + path + " via " + replica + (detail.isEmpty() ? "" : ": " + detail);
        }
    }

    /** One pull: an image's manifest, then its blobs until the first request that did not end right. */
    record Pull(int client, Pushed image, List<Exchange> exchanges) {
        boolean right() {
            return exchanges.stream().allMatch(e -> e.outcome() == Outcome.RIGHT);
        }

        boolean wrong() {
            return exchanges.stream().anyMatch(e -> e.outcome() == Outcome.WRONG);
        }
    }

    private final URI balancer;
    private final List<Pushed> released = new CopyOnWriteArrayList<>();
    private final Set<Digest> takenByFew = ConcurrentHashMap.newKeySet();
    /** The blobs of the images released to few, read slowly. */
    private final Set<Digest> bigBlobs = ConcurrentHashMap.newKeySet();
    private final IntPredicate takesTheFewOnes;
    private final Queue<Pull> pulls = new ConcurrentLinkedQueue<>();
    private final ConcurrentHashMap<Digest, AtomicLong> received = new ConcurrentHashMap<>();
    /** The replica each slow (big blob) stream in progress is on, by client. */
    private final ConcurrentHashMap<Integer, String> slowStreams = new ConcurrentHashMap<>();
    private final List<Thread> loops = new ArrayList<>();
    private final Duration thinkTime;
    private volatile boolean running = true;

    /**
     * {@code clients} loops through {@code balancer}; an image released with {@link #releaseToFew} is
     * pulled once, only by the clients {@code takesTheFewOnes} accepts (a big blob costs every
     * client's CPU to hash). Each client waits {@code thinkTime} between its pulls, as a fleet of
     * nodes does, so that 30 clients do not take the machine's two cores from the replicas.
     */
    PullingClients(URI balancer, int clients, IntPredicate takesTheFewOnes, Duration thinkTime) {
        this.balancer = balancer;
        this.thinkTime = thinkTime;
        this.takesTheFewOnes = takesTheFewOnes;
        for (int i = 0; i < clients; i++) {
            int client = i;
            Thread loop = new Thread(() -> pullUntilStopped(client), "pulling-client-" + i);
            loop.setDaemon(true);
            loops.add(loop);
        }
    }

    void start() {
        loops.forEach(Thread::start);
    }

    /** Images every client pulls from now on (each one first, then round robin). */
    void release(List<Pushed> images) {
        released.addAll(images);
    }

    /** An image pulled once by each client {@code takesTheFewOnes}, never again, its blobs read slowly (about 8 MiB/s). */
    void releaseToFew(Pushed image) {
        takenByFew.add(image.digest());
        bigBlobs.addAll(image.blobs());
        released.add(image);
    }

    /** Body bytes received so far for {@code blob} over every client, finished requests included. */
    long receivedOf(Digest blob) {
        AtomicLong bytes = received.get(blob);
        return bytes == null ? 0 : bytes.get();
    }

    /** The replicas that slow streams (of images released to few) are on right now. */
    Set<String> replicasStreamingSlowly() {
        return Set.copyOf(slowStreams.values());
    }

    /** Lets each loop finish the pull it is in, then waits for them all. */
    List<Pull> stop(Duration limit) throws InterruptedException {
        running = false;
        long deadline = System.nanoTime() + limit.toNanos();
        for (Thread loop : loops) {
            loop.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
            if (loop.isAlive()) {
                throw new AssertionError(loop.getName() + " still pulling " + limit.toSeconds() + " s after the stop");
            }
        }
        return List.copyOf(pulls);
    }

    /** Every pull finished so far. */
    List<Pull> pulls() {
        return List.copyOf(pulls);
    }

    private void pullUntilStopped(int client) {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
        Set<Digest> pulledOnce = new HashSet<>();
        int turn = client;
        while (running) {
            Pushed image = next(client, pulledOnce, turn++);
            pulledOnce.add(image.digest());
            pulls.add(pull(http, client, image));
            try {
                Thread.sleep(thinkTime.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** The first released image this client has not pulled yet (and may take), else the next one round robin. */
    private Pushed next(int client, Set<Digest> pulledOnce, int turn) {
        List<Pushed> now = List.copyOf(released);
        for (Pushed image : now) {
            boolean forFew = takenByFew.contains(image.digest());
            if (!pulledOnce.contains(image.digest()) && (!forFew || takesTheFewOnes.test(client))) {
                return image;
            }
        }
        List<Pushed> everyone = now.stream().filter(image -> !takenByFew.contains(image.digest())).toList();
        return everyone.get(Math.floorMod(turn, everyone.size()));
    }

    /** Pulls one image as a client would, with the request that must not go wrong checked. */
    Pull pull(HttpClient http, int client, Pushed image) {
        List<Exchange> exchanges = new ArrayList<>();
        Exchange manifest = fetch(http, client, "/v2/" + image.repository() + "/manifests/" + image.tag(), image.digest(), true);
        exchanges.add(manifest);
        for (int i = 0; i < image.blobs().size() && exchanges.get(exchanges.size() - 1).outcome() == Outcome.RIGHT; i++) {
            Digest blob = image.blobs().get(i);
            exchanges.add(fetch(http, client, "/v2/" + image.repository() + "/blobs/" + blob, blob, false));
        }
        return new Pull(client, image, List.copyOf(exchanges));
    }

    /** A new client's pull, for a retry after the run. */
    Pull pullOnce(int client, Pushed image) {
        return pull(HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build(), client, image);
    }

    private Exchange fetch(HttpClient http, int client, String path, Digest expected, boolean manifest) {
        long started = System.nanoTime();
        String replica = "(no answer)";
        boolean retried = false;
        long length = 0;
        try {
            HttpRequest.Builder request = HttpRequest.newBuilder(balancer.resolve(path)).timeout(Duration.ofSeconds(60));
            if (manifest) {
                request.header("Accept", String.join(", ", RegistryHttp.ALL_MANIFEST_TYPES));
            }
            HttpResponse<InputStream> response = http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
            String tried = response.headers().firstValue(Nginx.REPLICA_HEADER).orElse("(no " + Nginx.REPLICA_HEADER + ")");
            replica = tried.substring(tried.lastIndexOf(' ') + 1);
            retried = tried.contains(",");
            MessageDigest sha256 = MessageDigest.getInstance("SHA-256");
            AtomicLong counted = received.computeIfAbsent(expected, d -> new AtomicLong());
            boolean slow = !manifest && bigBlobs.contains(expected);
            if (slow) {
                slowStreams.put(client, replica);
            }
            try (InputStream body = response.body()) {
                byte[] buffer = new byte[64 * 1024];
                for (int n; (n = body.read(buffer)) >= 0; ) {
                    sha256.update(buffer, 0, n);
                    length += n;
                    counted.addAndGet(n);
                    if (slow) {
                        // A slow client (about 8 MiB/s): its stream is still on the replica when the drain delay ends.
                        Thread.sleep(8);
                    }
                }
            }
            if (response.statusCode() != 200) {
                return ended(client, path, replica, retried, started, Outcome.FAILED, "status " + response.statusCode());
            }
            long declared = response.headers().firstValueAsLong("Content-Length").orElse(-1);
            if (declared >= 0 && length < declared) {
                return ended(client, path, replica, retried, started, Outcome.FAILED, "short: " + length + " of " + declared + " bytes");
            }
            Digest got = Digest.parse("sha256:" + HexFormat.of().formatHex(sha256.digest()));
            if (!got.equals(expected)) {
                return ended(client, path, replica, retried, started, Outcome.WRONG, length + " bytes hashing to " + got);
            }
            String said = response.headers().firstValue("Docker-Content-Digest").orElse(expected.toString());
            if (!said.equals(expected.toString())) {
                return ended(client, path, replica, retried, started, Outcome.WRONG, "Docker-Content-Digest " + said);
            }
            return ended(client, path, replica, retried, started, Outcome.RIGHT, "");
        } catch (IOException e) {
            return ended(client, path, replica, retried, started, Outcome.FAILED, "after " + length + " bytes: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return ended(client, path, replica, retried, started, Outcome.FAILED, "interrupted");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        } finally {
            slowStreams.remove(client);
        }
    }

    private static Exchange ended(int client, String path, String replica, boolean retried, long started, Outcome outcome,
                                  String detail) {
        return new Exchange(client, path, replica, retried, started, System.nanoTime(), outcome, detail);
    }
}
