package dev.pullthrough.e2e;

import dev.pullthrough.testing.Loopback;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Debian's nginx as the load balancer in front of replicas (issue 30), as an operator would run
 * nginx OSS: round robin over an {@code upstream} block with passive health checks
 * ({@code max_fails}/{@code fail_timeout}; OSS has no active ones), a GET that meets a refused or
 * reset connection before its answer's head retried on the next replica
 * ({@code proxy_next_upstream}), keep-alive connections to the replicas, and bodies streamed
 * ({@code proxy_buffering off}). Runs in the foreground with its prefix, pid, logs and temp
 * directories under the test's directory; each answer says which replica served it in
 * {@code X-Replica} (nginx's {@code $upstream_addr}, every replica tried, the last one answered).
 */
final class Nginx implements AutoCloseable {
    static final Path BINARY = Path.of("/usr/sbin/nginx");
    static final String REPLICA_HEADER = "X-Replica";

    private final Path dir;
    private final int port;
    private final Process process;

    private Nginx(Path dir, int port, Process process) {
        this.dir = dir;
        this.port = port;
        this.process = process;
    }

    /** nginx on a free loopback port balancing over {@code replicas} (loopback ports), ready to accept. */
    static Nginx balancing(Path dir, List<Integer> replicas) throws Exception {
        if (!Files.isExecutable(BINARY)) {
            throw new AssertionError(BINARY + " is missing: apt-get install -y nginx (bash .ci/run does this)");
        }
        Files.createDirectories(dir);
        int port = Loopback.freePort();
        Path conf = dir.resolve("nginx.conf");
        Files.writeString(conf, config(dir, port, replicas));
        Process process = new ProcessBuilder(BINARY.toString(), "-p", dir.toString(), "-c", conf.toString(),
                "-e", dir.resolve("error.log").toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("stdout.log").toFile()).start();
        Nginx nginx = new Nginx(dir, port, process);
        Await.until(() -> {
            if (!process.isAlive()) {
                throw new AssertionError("nginx exited with " + process.exitValue() + ": " + nginx.errorLog());
            }
            return Loopback.listening(port);
        }, Duration.ofSeconds(20), "nginx listening on " + port);
        return nginx;
    }

    private static String config(Path dir, int port, List<Integer> replicas) {
        String servers = replicas.stream()
                // One failure takes a replica out for 2 s (a stopped one refuses connections), then nginx tries it again.
                .map(replica -> "    server 127.0.0.1:" + replica + " max_fails=1 fail_timeout=2s;")
                .collect(Collectors.joining("\n"));
        // As root the workers would switch to nobody, who cannot enter the test's private directory.
        String user = "root".equals(System.getProperty("user.name")) ? "user root;\n" : "";
        return user + """
                daemon off;
                worker_processes 1;
                pid %1$s/nginx.pid;
                error_log %1$s/error.log info;
                events { worker_connections 1024; }
                http {
                  log_format pulls '$request_method $request_uri $status $body_bytes_sent upstream=$upstream_addr'
                                   ' upstream_status=$upstream_status';
                  access_log %1$s/access.log pulls;
                  client_body_temp_path %1$s/client_body;
                  proxy_temp_path %1$s/proxy;
                  fastcgi_temp_path %1$s/fastcgi;
                  uwsgi_temp_path %1$s/uwsgi;
                  scgi_temp_path %1$s/scgi;
                  upstream replicas {
                %2$s
                    keepalive 32;
                  }
                  server {
                    listen 127.0.0.1:%3$d;
                    location / {
                      proxy_pass http://replicas;
                      # Keep-alive to the replicas: a draining one closes them, which nginx must take in its stride.
                      proxy_http_version 1.1;
                      proxy_set_header Connection "";
                      proxy_set_header Host $http_host;
                      # Blobs stream: the first byte goes out before the last one arrives, nothing spooled to disk.
                      proxy_buffering off;
                      proxy_request_buffering off;
                      # A refused or reset connection, or a 502/503/504, before the answer's head: the next replica.
                      # Pulls are GET and HEAD, idempotent, so nothing more (non_idempotent) is needed.
                      proxy_next_upstream error timeout http_502 http_503 http_504;
                      proxy_next_upstream_tries 3;
                      proxy_connect_timeout 2s;
                      add_header %4$s $upstream_addr always;
                    }
                  }
                }
                """.formatted(dir, servers, port, REPLICA_HEADER);
    }

    URI url() {
        return URI.create("http://127.0.0.1:" + port);
    }

    /** The access log's lines: method, target, status, bytes, every replica tried and their statuses. */
    List<String> accessLog() throws IOException {
        Path log = dir.resolve("access.log");
        return Files.exists(log) ? Files.readAllLines(log) : List.of();
    }

    String errorLog() {
        try {
            return Files.readString(dir.resolve("error.log"));
        } catch (IOException e) {
            return "(no error log)";
        }
    }

    @Override
    public void close() throws InterruptedException {
        // The workers, taken first: a master killed forcibly leaves them running (an orphan worker was
        // found an hour after a run), holding the port and the machine's memory.
        List<ProcessHandle> workers = process.descendants().toList();
        // SIGQUIT would wait for every stream; SIGTERM is nginx's fast stop.
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
        }
        for (ProcessHandle worker : workers) {
            worker.destroyForcibly();
            try {
                worker.onExit().get(10, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                throw new IllegalStateException("nginx worker " + worker.pid() + " did not stop", e);
            }
        }
    }
}
