package dev.pullthrough.upstream;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * The TLS trust of one upstream: the JVM's usual CAs plus those of {@code upstreams[].caFile} (a
 * registry behind a private CA may still redirect blobs to a public CDN, so neither set replaces
 * the other). A certificate neither set vouches for fails the handshake; nothing falls back to
 * trusting it.
 */
final class UpstreamTrust {
    private UpstreamTrust() {}

    static SSLContext withExtraCas(Path caFile) throws IOException {
        try {
            KeyStore extra = KeyStore.getInstance(KeyStore.getDefaultType());
            extra.load(null, null);
            int i = 0;
            try (InputStream in = Files.newInputStream(caFile)) {
                for (Certificate certificate : java.security.cert.CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                    extra.setCertificateEntry("ca-" + i++, certificate);
                }
            }
            List<X509TrustManager> managers = new ArrayList<>();
            managers.add(x509(extra));
            managers.add(x509(null));
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, new TrustManager[] {new EitherTrustManager(managers)}, null);
            return context;
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot trust the CAs in " + caFile + ": " + e.getMessage(), e);
        }
    }

    private static X509TrustManager x509(KeyStore store) throws GeneralSecurityException {
        TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init(store);
        for (TrustManager manager : factory.getTrustManagers()) {
            if (manager instanceof X509TrustManager) {
                return (X509TrustManager) manager;
            }
        }
        throw new GeneralSecurityException("no X.509 trust manager");
    }

    /** Trusts a server whose chain any of its managers trusts; reports the first one's reason when none does. */
    private static final class EitherTrustManager implements X509TrustManager {
        private final List<X509TrustManager> managers;

        EitherTrustManager(List<X509TrustManager> managers) {
            this.managers = managers;
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            CertificateException first = null;
            for (X509TrustManager manager : managers) {
                try {
                    manager.checkServerTrusted(chain, authType);
                    return;
                } catch (CertificateException e) {
                    first = first == null ? e : first;
                }
            }
            throw first;
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("this trust manager only checks servers");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return managers.stream().flatMap(m -> java.util.Arrays.stream(m.getAcceptedIssuers())).toArray(X509Certificate[]::new);
        }
    }
}
