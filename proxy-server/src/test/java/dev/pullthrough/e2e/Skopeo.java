package dev.pullthrough.e2e;

/** The real skopeo client, against plain-HTTP loopback registries. */
final class Skopeo {
    static final String BINARY = "/usr/bin/skopeo";

    private Skopeo() {}

    /** {@code skopeo inspect [--raw|--config]}: what skopeo makes of an image, as text. */
    static String inspect(String mode, String image) {
        Processes.require(BINARY, "skopeo");
        java.util.List<String> command = new java.util.ArrayList<>(java.util.List.of(BINARY, "--insecure-policy", "inspect",
                "--retry-times", "0", "--tls-verify=false"));
        if (!mode.isEmpty()) {
            command.add(mode);
        }
        command.add("docker://" + image);
        return Processes.run(command, 120).requireSuccess(command).output();
    }

    /** {@code skopeo copy --all}: every platform, children before the parent, digests kept. */
    static Processes.Result copyAll(String from, String to) {
        Processes.require(BINARY, "skopeo");
        return Processes.runOk(180, BINARY, "--insecure-policy", "copy", "--all", "--retry-times", "0",
                "--src-tls-verify=false", "--dest-tls-verify=false", "docker://" + from, "docker://" + to);
    }
}
