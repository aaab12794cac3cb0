package dev.pullthrough.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** The real curl, as a person or a CI script asks a registry for a manifest: the accepted types in one header. */
final class Curl {
    static final String BINARY = "/usr/bin/curl";

    private Curl() {}

    /** A response: status, raw header lines, and body. */
    record Response(int status, List<String> headers, byte[] body) {
        /** The first value of a header, or the empty string. */
        String header(String name) {
            String prefix = name.toLowerCase(Locale.ROOT) + ":";
            return headers.stream().filter(h -> h.toLowerCase(Locale.ROOT).startsWith(prefix))
                    .map(h -> h.substring(prefix.length()).trim()).findFirst().orElse("");
        }
    }

    static Response get(String url, List<String> acceptedTypes) {
        Processes.require(BINARY, "curl");
        try {
            Path headers = Files.createTempFile("curl", ".headers");
            Path body = Files.createTempFile("curl", ".body");
            List<String> command = List.of(BINARY, "-sS", "-D", headers.toString(), "-o", body.toString(),
                    "-w", "%{http_code}", "-H", "Accept: " + String.join(", ", acceptedTypes), url);
            String status = Processes.run(command, 60, Processes.FENCED).requireSuccess(command).output().trim();
            Response response = new Response(Integer.parseInt(status), Files.readAllLines(headers), Files.readAllBytes(body));
            Files.delete(headers);
            Files.delete(body);
            return response;
        } catch (IOException e) {
            throw new AssertionError("curl " + url + ": " + e, e);
        }
    }
}
