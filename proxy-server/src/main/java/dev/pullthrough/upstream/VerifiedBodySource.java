package dev.pullthrough.upstream;

import dev.pullthrough.oci.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.function.LongConsumer;

/**
 * A fallback source's blob body, hashed while it passes to the sink: at its end, the right bytes end
 * the body and are counted; wrong ones cut it with an error naming the source (issue 27).
 */
final class VerifiedBodySource implements BodySource {
    private final BlobBody body;
    private final Digest digest;
    private final String source;
    private final LongConsumer verified;
    private final Runnable wrong;

    VerifiedBodySource(BlobBody body, Digest digest, String source, LongConsumer verified, Runnable wrong) {
        this.body = body;
        this.digest = digest;
        this.source = source;
        this.verified = verified;
        this.wrong = wrong;
    }

    @Override
    public void stream(BodySink sink) {
        body.stream(new Hashing(sink));
    }

    @Override
    public void cancel(String why) {
        body.cancel(why);
    }

    /** Hashes each chunk before passing it on; chunks arrive one after another on the transport's loop. */
    private final class Hashing implements BodySink {
        private final BodySink sink;
        private final MessageDigest hasher = digest.newHasher();
        private long bytes;

        Hashing(BodySink sink) {
            this.sink = sink;
        }

        @Override
        public void onBytes(ByteBuffer chunk, Runnable consumed) {
            bytes += chunk.remaining();
            hasher.update(chunk.duplicate());
            sink.onBytes(chunk, consumed);
        }

        @Override
        public void onEnd() {
            if (digest.matches(hasher)) {
                verified.accept(bytes);
                sink.onEnd();
            } else {
                wrong.run();
                sink.onError(new IOException("fallback " + source + " sent " + bytes + " bytes that do not hash to " + digest));
            }
        }

        @Override
        public void onError(Throwable failure) {
            sink.onError(failure);
        }
    }
}
