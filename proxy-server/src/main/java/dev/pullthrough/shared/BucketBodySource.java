package dev.pullthrough.shared;

import dev.pullthrough.upstream.BodySink;
import dev.pullthrough.upstream.BodySource;
import java.nio.ByteBuffer;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;

/**
 * A blob read from the bucket, handed to a {@link BodySink} as an upstream body is: one chunk asked
 * for at a time, the next only when the sink consumed the last (a slow disk slows the read, it does
 * not fill memory).
 */
final class BucketBodySource implements BodySource {
    private final Publisher<ByteBuffer> bytes;
    private final AtomicBoolean ended = new AtomicBoolean();
    private volatile Subscription subscription;
    private volatile BodySink sink;

    BucketBodySource(Publisher<ByteBuffer> bytes) {
        this.bytes = bytes;
    }

    @Override
    public void stream(BodySink to) {
        sink = to;
        bytes.subscribe(new Subscriber<>() {
            @Override
            public void onSubscribe(Subscription s) {
                subscription = s;
                s.request(1);
            }

            @Override
            public void onNext(ByteBuffer chunk) {
                AtomicBoolean consumed = new AtomicBoolean();
                to.onBytes(chunk, () -> {
                    if (consumed.compareAndSet(false, true) && !ended.get()) {
                        subscription.request(1);
                    }
                });
            }

            @Override
            public void onError(Throwable failure) {
                if (ended.compareAndSet(false, true)) {
                    to.onError(failure);
                }
            }

            @Override
            public void onComplete() {
                if (ended.compareAndSet(false, true)) {
                    to.onEnd();
                }
            }
        });
    }

    @Override
    public void cancel(String why) {
        Subscription s = subscription;
        if (s != null) {
            s.cancel();
        }
        BodySink to = sink;
        if (to != null && ended.compareAndSet(false, true)) {
            to.onError(new CancellationException(why));
        }
    }
}
