package dev.pullthrough.storage.s3;

import dev.pullthrough.oci.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * {@code fsck} of the shared bucket: every blob and manifest object re-hashed against the digest its
 * key names; an object that does not match (or whose key names no digest) is removed, so no replica
 * ever reads it. Blobs are streamed, never held in memory.
 */
public final class BucketFsck {
    /** What a pass found: objects checked, their bytes, and the keys removed with why. */
    public record Report(int objectsChecked, long bytesChecked, List<String> bad) {
        public boolean clean() {
            return bad.isEmpty();
        }
    }

    private BucketFsck() {}

    public static Report check(S3Bucket bucket) {
        int[] checked = {0};
        long[] bytes = {0};
        List<String> bad = new ArrayList<>();
        for (S3Bucket.Kind kind : S3Bucket.Kind.values()) {
            List<String> keys = new ArrayList<>();
            bucket.forEachKey(kind, keys::add);
            for (String key : keys) {
                if (key.endsWith("/")) {
                    continue; // a folder marker (filesystem-backed stores list their directories)
                }
                Optional<Digest> named = bucket.digestOf(kind, key);
                Optional<String> problem;
                if (named.isEmpty()) {
                    problem = Optional.of("the key names no digest");
                } else {
                    checked[0]++;
                    problem = mismatch(bucket, key, named.get(), bytes);
                }
                if (problem.isPresent()) {
                    bucket.delete(key).join();
                    bad.add(key + ": " + problem.get());
                }
            }
        }
        return new Report(checked[0], bytes[0], List.copyOf(bad));
    }

    private static Optional<String> mismatch(S3Bucket bucket, String key, Digest expected, long[] bytes) {
        Optional<InputStream> body = bucket.read(key);
        if (body.isEmpty()) {
            return Optional.empty(); // removed meanwhile (another replica's fsck)
        }
        MessageDigest hash;
        try {
            hash = MessageDigest.getInstance(expected.algorithm().equals("sha512") ? "SHA-512" : "SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256 and SHA-512", e);
        }
        try (InputStream in = body.get()) {
            byte[] buffer = new byte[1 << 16];
            for (int n; (n = in.read(buffer)) > 0; ) {
                hash.update(buffer, 0, n);
                bytes[0] += n;
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + key + " from the bucket", e);
        }
        String actual = HexFormat.of().formatHex(hash.digest());
        return actual.equals(expected.hex()) ? Optional.empty() : Optional.of("its bytes hash to " + expected.algorithm() + ":" + actual);
    }
}
