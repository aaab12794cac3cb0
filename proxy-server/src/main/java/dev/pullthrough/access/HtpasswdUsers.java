package dev.pullthrough.access;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.pullthrough.config.ConfigException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;

/**
 * The users of an htpasswd file, bcrypt only ({@code htpasswd -B}). bcrypt is slow on purpose, so
 * a successful check is remembered for a few minutes (by a hash of the password, never the password).
 */
public final class HtpasswdUsers {
    private static final Duration REMEMBER = Duration.ofMinutes(5);

    private final Map<String, String> hashes;
    private final Cache<String, Boolean> verified = Caffeine.newBuilder()
            .expireAfterWrite(REMEMBER).maximumSize(10_000).build();

    private HtpasswdUsers(Map<String, String> hashes) {
        this.hashes = hashes;
    }

    /** Loads {@code file}; a line that is not {@code user:bcrypt-hash} is a config error naming the line. */
    public static HtpasswdUsers load(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new ConfigException("auth.htpasswd", "cannot read " + file + " (" + e + ")",
                    "give a readable htpasswd file, e.g. made with 'htpasswd -B -c FILE USER'");
        }
        Map<String, String> hashes = new HashMap<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int colon = line.indexOf(':');
            String hash = colon < 0 ? "" : line.substring(colon + 1);
            if (colon <= 0 || !(hash.startsWith("$2a$") || hash.startsWith("$2b$") || hash.startsWith("$2y$"))) {
                throw new ConfigException("auth.htpasswd", file + " line " + (i + 1) + " is not 'user:bcrypt-hash'",
                        "only bcrypt is accepted: create entries with 'htpasswd -B FILE USER'");
            }
            hashes.put(line.substring(0, colon), hash);
        }
        if (hashes.isEmpty()) {
            throw new ConfigException("auth.htpasswd", file + " has no users", "add one with 'htpasswd -B FILE USER'");
        }
        return new HtpasswdUsers(hashes);
    }

    /** Whether {@code password} is {@code user}'s. Blocking (bcrypt): call off the event loop. */
    public boolean verify(String user, String password) {
        String hash = hashes.get(user);
        if (hash == null) {
            return false;
        }
        String key = user + ":" + sha256(password);
        if (verified.getIfPresent(key) != null) {
            return true;
        }
        boolean ok;
        try {
            ok = OpenBSDBCrypt.checkPassword(hash, password.toCharArray());
        } catch (IllegalArgumentException e) {
            ok = false;
        }
        if (ok) {
            verified.put(key, Boolean.TRUE);
        }
        return ok;
    }

    private static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
