package dev.pullthrough.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** A throwaway CA and certificates it signs, made with the real openssl, for TLS tests on loopback. */
final class TestPki {
    private final Path dir;

    private TestPki(Path dir) {
        this.dir = dir;
    }

    /** A new CA (ca.crt, ca.key) in {@code dir}. */
    static TestPki create(Path dir) {
        Processes.require("/usr/bin/openssl", "openssl");
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        Processes.runOk(60, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
                "-keyout", dir.resolve("ca.key").toString(), "-out", dir.resolve("ca.crt").toString());
        return new TestPki(dir);
    }

    Path caCertificate() {
        return dir.resolve("ca.crt");
    }

    /**
     * A certificate for {@code name} signed by this CA, with the given X.509 extension line (e.g.
     * {@code subjectAltName=IP:127.0.0.1} or {@code extendedKeyUsage=clientAuth}); {@code name.crt}
     * and {@code name.key} in PEM, and {@code name.p12} (password {@code test}) for Java servers.
     */
    Path issue(String name, String extension) {
        String base = dir.resolve(name).toString();
        Processes.runOk(60, "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name,
                "-keyout", base + ".key", "-out", base + ".csr");
        try {
            Files.writeString(Path.of(base + ".ext"), extension + "\n");
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        Processes.runOk(60, "openssl", "x509", "-req", "-in", base + ".csr", "-CA", caCertificate().toString(),
                "-CAkey", dir.resolve("ca.key").toString(), "-CAcreateserial", "-days", "1", "-extfile", base + ".ext",
                "-out", base + ".crt");
        Processes.runOk(60, "openssl", "pkcs12", "-export", "-in", base + ".crt", "-inkey", base + ".key",
                "-out", base + ".p12", "-passout", "pass:test");
        return Path.of(base + ".crt");
    }

    Path key(String name) {
        return dir.resolve(name + ".key");
    }

    Path pkcs12(String name) {
        return dir.resolve(name + ".p12");
    }

    /** A server's TLS context holding {@code name}'s certificate and key (from {@link #pkcs12}). */
    javax.net.ssl.SSLContext serverContext(String name) throws Exception {
        java.security.KeyStore store = java.security.KeyStore.getInstance("PKCS12");
        try (java.io.InputStream in = Files.newInputStream(pkcs12(name))) {
            store.load(in, "test".toCharArray());
        }
        javax.net.ssl.KeyManagerFactory keys = javax.net.ssl.KeyManagerFactory.getInstance(
                javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
        keys.init(store, "test".toCharArray());
        javax.net.ssl.SSLContext context = javax.net.ssl.SSLContext.getInstance("TLS");
        context.init(keys.getKeyManagers(), null, null);
        return context;
    }
}
