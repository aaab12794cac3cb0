package dev.pullthrough.oci;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * A content digest, {@code algorithm:hex}, as the OCI image spec defines it. Only the algorithms a
 * registry must verify are accepted (sha256, sha512), with lowercase hex of their exact length, so
 * every digest past {@link #parse} is safe to use as a file name and to compare byte for byte.
 */
public record Digest(String algorithm, String hex) {
    private static final Pattern SHA256 = Pattern.compile("[a-f0-9]{64}");
    private static final Pattern SHA512 = Pattern.compile("[a-f0-9]{128}");

    /** The digest in {@code text}, or {@link InvalidDigestException} saying why not. */
    public static Digest parse(String text) {
        int colon = text.indexOf(':');
        if (colon <= 0) {
            throw new InvalidDigestException("'" + abbreviate(text) + "' is not algorithm:hex");
        }
        String algorithm = text.substring(0, colon);
        String hex = text.substring(colon + 1);
        Pattern pattern;
        switch (algorithm) {
            case "sha256": pattern = SHA256; break;
            case "sha512": pattern = SHA512; break;
            default: throw new InvalidDigestException("algorithm '" + abbreviate(algorithm) + "' is not supported (sha256, sha512)");
        }
        if (!pattern.matcher(hex).matches()) {
            throw new InvalidDigestException("'" + abbreviate(text) + "' does not have the lowercase hex length of " + algorithm);
        }
        return new Digest(algorithm, hex);
    }

    /** A sha256 digest of {@code bytes}. */
    public static Digest sha256Of(byte[] bytes) {
        return new Digest("sha256", HexFormat.of().formatHex(sha256().digest(bytes)));
    }

    /** A fresh hasher for this digest's algorithm. */
    public MessageDigest newHasher() {
        try {
            return MessageDigest.getInstance(algorithm.equals("sha256") ? "SHA-256" : "SHA-512");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks " + algorithm, e);
        }
    }

    /** Whether {@code bytes} hash to this digest. */
    public boolean matches(byte[] bytes) {
        return MessageDigest.isEqual(newHasher().digest(bytes), HexFormat.of().parseHex(hex));
    }

    /** Whether a finished hasher of this digest's algorithm holds this digest. */
    public boolean matches(MessageDigest finished) {
        return MessageDigest.isEqual(finished.digest(), HexFormat.of().parseHex(hex));
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks SHA-256", e);
        }
    }

    private static String abbreviate(String text) {
        return text.length() <= 80 ? text : text.substring(0, 80) + "...";
    }

    @Override
    public String toString() {
        return algorithm + ":" + hex;
    }
}
