package dev.pullthrough.upstream;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The TLS trust of one upstream: the JVM's usual CAs plus those of {@code upstreams[].caFile} (a
 * registry behind a private CA may still redirect blobs to a public CDN, so neither set replaces
 * the other). Host names are verified either way. A certificate neither set vouches for fails the
 * handshake; nothing falls back to trusting it.
 */
public final class UpstreamTrust {
    private UpstreamTrust() {}

    public static X509ExtendedTrustManager of(Optional<Path> caFile) throws IOException {
        try {
            X509ExtendedTrustManager usual = x509(null);
            if (caFile.isEmpty()) {
                return usual;
            }
            KeyStore extra = KeyStore.getInstance(KeyStore.getDefaultType());
            extra.load(null, null);
            int i = 0;
            try (InputStream in = Files.newInputStream(caFile.get())) {
                for (Certificate certificate : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                    extra.setCertificateEntry("ca-" + i++, certificate);
                }
            }
            return new EitherTrustManager(List.of(x509(extra), usual));
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot trust the CAs in " + caFile.orElse(null) + ": " + e.getMessage(), e);
        }
    }

    private static X509ExtendedTrustManager x509(KeyStore store) throws GeneralSecurityException {
        TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init(store);
        for (TrustManager manager : factory.getTrustManagers()) {
            if (manager instanceof X509ExtendedTrustManager) {
                return (X509ExtendedTrustManager) manager;
            }
        }
        throw new GeneralSecurityException("no X.509 trust manager");
    }

    /** Trusts a server whose chain (and host name) any of its managers accepts; reports the first one's reason otherwise. */
    private static final class EitherTrustManager extends X509ExtendedTrustManager {
        /** One of the delegate checks. */
        private interface Check {
            void run(X509ExtendedTrustManager manager) throws CertificateException;
        }

        private final List<X509ExtendedTrustManager> managers;

        EitherTrustManager(List<X509ExtendedTrustManager> managers) {
            this.managers = managers;
        }

        private void any(Check check) throws CertificateException {
            CertificateException first = null;
            for (X509ExtendedTrustManager manager : managers) {
                try {
                    check.run(manager);
                    return;
                } catch (CertificateException e) {
                    first = first == null ? e : first;
                }
            }
            throw first;
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
            any(m -> m.checkServerTrusted(chain, authType, engine));
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
            any(m -> m.checkServerTrusted(chain, authType, socket));
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            any(m -> m.checkServerTrusted(chain, authType));
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
            throw new CertificateException("this trust manager only checks servers");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
            throw new CertificateException("this trust manager only checks servers");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("this trust manager only checks servers");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return managers.stream().flatMap(m -> Arrays.stream(m.getAcceptedIssuers())).toArray(X509Certificate[]::new);
        }
    }
}
