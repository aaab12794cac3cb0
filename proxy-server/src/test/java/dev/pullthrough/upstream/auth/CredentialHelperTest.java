package dev.pullthrough.upstream.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Running a Docker credential helper (issue 27): scripted helpers in a temp directory answer, hang,
 * print garbage or fail; each failure names the helper and never shows what it printed.
 */
class CredentialHelperTest {
    @TempDir
    Path bin;

    private Path script(String name, String body) throws Exception {
        Path file = bin.resolve("docker-credential-" + name);
        Files.writeString(file, "#!/bin/sh\n" + body + "\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
        return file;
    }

    private CredentialHelper helper(String name, Duration deadline) {
        return new CredentialHelper(name, "registry.example:5000", List.of(bin.resolve("elsewhere"), bin), deadline);
    }

    @Test
    void load_helperAnswers_usernameAndSecretForTheServerOnStdin() throws Exception {
        script("good", "read server; [ \"$1\" = get ] || exit 3\n"
                + "echo \"{\\\"ServerURL\\\":\\\"$server\\\",\\\"Username\\\":\\\"user-for-$server\\\",\\\"Secret\\\":\\\"s3cret\\\"}\"");
        Credentials credentials = helper("good", Duration.ofSeconds(20)).load();
        assertEquals("user-for-registry.example:5000", credentials.username());
        assertEquals("s3cret", credentials.secret());
        assertFalse(credentials.toString().contains("s3cret"));
    }

    @Test
    void load_helperHangs_cutAtItsDeadlineNamingIt() throws Exception {
        Path pidFile = bin.resolve("sleeper.pid");
        script("hangs", "sleep 60 &\necho $! > " + pidFile + "\nwait");
        long started = System.nanoTime();
        CredentialFailure failure = assertThrows(CredentialFailure.class, () -> helper("hangs", Duration.ofMillis(500)).load());
        long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        assertTrue(tookMillis < 15_000, "cut near its 500 ms deadline, not after the helper's 60 s: " + tookMillis + " ms");
        assertTrue(failure.getMessage().contains("docker-credential-hangs did not answer within 500 ms"), failure.getMessage());
        long sleeper = Long.parseLong(Files.readString(pidFile).strip());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (ProcessHandle.of(sleeper).map(ProcessHandle::isAlive).orElse(false) && System.nanoTime() < deadline) {
            Thread.onSpinWait(); // SIGKILL was sent; the kernel ends the process a moment later
        }
        assertFalse(ProcessHandle.of(sleeper).map(ProcessHandle::isAlive).orElse(false), "the helper's child was stopped too");
    }

    @Test
    void load_helperPrintsGarbage_failureNamesItWithoutQuotingIt() throws Exception {
        script("garbage", "echo 'Secret: hunter2 <html>'");
        CredentialFailure failure = assertThrows(CredentialFailure.class, () -> helper("garbage", Duration.ofSeconds(20)).load());
        assertTrue(failure.getMessage().contains("credential helper docker-credential-garbage printed no JSON object"),
                failure.getMessage());
        assertFalse(failure.getMessage().contains("hunter2"), failure.getMessage());
    }

    @Test
    void load_helperFails_exitStatusNamed() throws Exception {
        script("fails", "echo 'credentials not found in native keychain'; exit 1");
        CredentialFailure failure = assertThrows(CredentialFailure.class, () -> helper("fails", Duration.ofSeconds(20)).load());
        assertEquals("credential helper docker-credential-fails failed (exit status 1)", failure.getMessage());
    }

    @Test
    void load_helperMissing_saysItIsNotOnThePath() {
        CredentialFailure failure = assertThrows(CredentialFailure.class, () -> helper("absent", Duration.ofSeconds(1)).load());
        assertTrue(failure.getMessage().startsWith("credential helper docker-credential-absent is not on the PATH"),
                failure.getMessage());
    }
}
