package dev.pullthrough.server;

import dev.pullthrough.config.ConfigException;
import dev.pullthrough.config.TlsConfig;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.util.Optional;

/**
 * The TLS of the registry listener, from PEM files; a client CA turns on mutual TLS. Built before
 * the listener binds, so a bad file is a config error naming the key; opaque outside this package.
 */
public final class TlsContexts {
    /** A ready TLS context, or none (plain HTTP). */
    public static final class ServerTls {
        final Optional<SslContext> context;

        private ServerTls(Optional<SslContext> context) {
            this.context = context;
        }
    }

    private TlsContexts() {}

    public static ServerTls forServer(Optional<TlsConfig> tls) {
        return new ServerTls(build(tls));
    }

    private static Optional<SslContext> build(Optional<TlsConfig> tls) {
        if (tls.isEmpty()) {
            return Optional.empty();
        }
        TlsConfig config = tls.get();
        SslContextBuilder builder;
        try {
            builder = SslContextBuilder.forServer(config.certFile().toFile(), config.keyFile().toFile());
        } catch (IllegalArgumentException e) {
            throw new ConfigException("server.tls", "cannot read the certificate " + config.certFile() + " or key "
                    + config.keyFile() + " (" + e.getMessage() + ")",
                    "give PEM files; convert other keys with 'openssl pkcs8 -topk8 -nocrypt -in KEY -out key.pem'");
        }
        if (config.clientCaFile().isPresent()) {
            builder.trustManager(config.clientCaFile().get().toFile()).clientAuth(ClientAuth.REQUIRE);
        }
        try {
            return Optional.of(builder.build());
        } catch (Exception e) {
            throw new ConfigException("server.tls", "the TLS files are unusable (" + e.getMessage() + ")",
                    "give a PEM certificate chain, its PKCS#8 PEM key and, for mTLS, a PEM CA file");
        }
    }
}
