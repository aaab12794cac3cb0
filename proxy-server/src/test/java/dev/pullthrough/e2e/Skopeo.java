package dev.pullthrough.e2e;

/** The real skopeo client, against plain-HTTP loopback registries. */
final class Skopeo {
    static final String BINARY = "/usr/bin/skopeo";

    private Skopeo() {}

    /** {@code skopeo copy --all}: every platform, children before the parent, digests kept. */
    static Processes.Result copyAll(String from, String to) {
        Processes.require(BINARY, "skopeo");
        return Processes.runOk(180, BINARY, "--insecure-policy", "copy", "--all", "--retry-times", "0",
                "--src-tls-verify=false", "--dest-tls-verify=false", "docker://" + from, "docker://" + to);
    }
}
