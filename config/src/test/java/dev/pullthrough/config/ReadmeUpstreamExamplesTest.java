package dev.pullthrough.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every upstream example in README.md is a configuration {@code check} accepts (issue 27: "a config each that
 * check accepts"), and what {@code check} prints of it holds none of its secrets. The key reference under
 * "## Configuration" lists every key at once (some exclude each other) and is not an example.
 */
class ReadmeUpstreamExamplesTest {
    private static final Path README = Path.of("..", "README.md");
    private static final Pattern YAML_BLOCK = Pattern.compile("```yaml\n(.*?)```", Pattern.DOTALL);
    private static final Pattern SECRET_PATH = Pattern.compile("/run/secrets/[\\w.-]+");
    private static final String SECRET = "s3cr3t-from-a-file";

    @TempDir
    Path secrets;

    /** A YAML block and the README heading it sits under. */
    private record Example(String heading, String yaml) {}

    private static List<Example> upstreamExamples() throws Exception {
        String readme = Files.readString(README);
        List<Example> examples = new ArrayList<>();
        Matcher block = YAML_BLOCK.matcher(readme);
        while (block.find()) {
            String before = readme.substring(0, block.start());
            String heading = before.substring(before.lastIndexOf("\n#") + 1, before.indexOf('\n', before.lastIndexOf("\n#") + 1));
            if (block.group(1).contains("upstreams:") && !heading.equals("## Configuration")) {
                examples.add(new Example(heading, block.group(1)));
            }
        }
        return examples;
    }

    @Test
    void everyUpstreamExample_isAcceptedByCheck_andItsSecretsAreMasked() throws Exception {
        List<Example> examples = upstreamExamples();
        List<String> headings = examples.stream().map(Example::heading).toList();
        for (String section : List.of("### Several upstreams: Docker Hub, ghcr.io and a private registry",
                "### Behind a corporate proxy", "### Rotating credentials: ECR, GCR and Artifact Registry with a credential helper",
                "### GCR, Artifact Registry, GHCR and Quay", "### Fallback sources: another registry when Docker Hub rate-limits")) {
            assertTrue(headings.contains(section), "README has an upstream example under " + section + ": " + headings);
        }
        for (Example example : examples) {
            String yaml = withSecretFiles(example.yaml());
            try {
                PullthroughConfig config = ConfigLoader.fromYaml(yaml, environmentNamedIn(yaml));
                assertFalse(config.upstreams().isEmpty(), example.heading());
                String printed = EffectiveConfig.yaml(config);
                assertFalse(printed.contains(SECRET), "check prints a secret of the example under " + example.heading() + ":\n" + printed);
            } catch (ConfigException e) {
                fail("README's example under " + example.heading() + " is refused: " + e.getMessage() + "\n" + yaml);
            }
        }
    }

    @Test
    void theSecretFilesTheExamplesName_areReallyRead() throws Exception {
        Example hub = upstreamExamples().stream().filter(e -> e.heading().startsWith("### Several upstreams")).findFirst().orElseThrow();
        PullthroughConfig config = ConfigLoader.fromYaml(withSecretFiles(hub.yaml()), environmentNamedIn(hub.yaml()));
        assertEquals("s3cr3t-from-a-file", config.upstreams().get(0).password().orElseThrow(),
                "passwordFile of the first upstream read from the file the test wrote");
    }

    /** The secrets an example's comments say come from the environment ({@code PULLTHROUGH_..._PASSWORD}), set. */
    private static Map<String, String> environmentNamedIn(String yaml) {
        Matcher variable = Pattern.compile("PULLTHROUGH_\\w+PASSWORD").matcher(yaml);
        java.util.HashMap<String, String> env = new java.util.HashMap<>();
        while (variable.find()) {
            env.put(variable.group(), SECRET);
        }
        return env;
    }

    /** The example with each {@code /run/secrets/NAME} replaced by a file of that name holding {@link #SECRET}. */
    private String withSecretFiles(String yaml) throws Exception {
        Matcher path = SECRET_PATH.matcher(yaml);
        StringBuilder out = new StringBuilder();
        while (path.find()) {
            Path file = secrets.resolve(path.group().substring("/run/secrets/".length()));
            Files.writeString(file, SECRET + "\n");
            path.appendReplacement(out, Matcher.quoteReplacement(file.toString()));
        }
        return path.appendTail(out).toString();
    }
}
