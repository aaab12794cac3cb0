package dev.pullthrough.upstream.http;

import io.netty.resolver.AddressResolver;
import io.netty.resolver.AddressResolverGroup;
import io.netty.resolver.InetNameResolver;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.EventExecutorGroup;
import io.netty.util.concurrent.Promise;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.List;

/**
 * Name lookups for upstream connections, on threads of their own. The JDK's lookup (the one that
 * honours /etc/hosts, nsswitch and its cache, as every other client on the machine does) blocks, and
 * Netty's default runs it on the connecting event loop: one slow DNS server would then stall every
 * connection on that loop, cache hits included.
 */
final class OffLoopResolverGroup extends AddressResolverGroup<InetSocketAddress> {
    /** A blocking name lookup: {@link InetAddress#getAllByName} in production. */
    interface Lookup {
        InetAddress[] all(String host) throws UnknownHostException;
    }

    private final EventExecutorGroup lookups;
    private final Lookup lookup;

    OffLoopResolverGroup(EventExecutorGroup lookups, Lookup lookup) {
        this.lookups = lookups;
        this.lookup = lookup;
    }

    @Override
    protected AddressResolver<InetSocketAddress> newResolver(EventExecutor executor) {
        return new Resolver(lookups.next(), lookup).asAddressResolver();
    }

    /** Resolves on {@code executor} (a lookup thread) and completes the caller's promise from there. */
    private static final class Resolver extends InetNameResolver {
        private final Lookup lookup;

        Resolver(EventExecutor executor, Lookup lookup) {
            super(executor);
            this.lookup = lookup;
        }

        @Override
        protected void doResolve(String host, Promise<InetAddress> promise) {
            executor().execute(() -> {
                try {
                    promise.trySuccess(lookup.all(host)[0]);
                } catch (UnknownHostException | RuntimeException e) {
                    promise.tryFailure(e);
                }
            });
        }

        @Override
        protected void doResolveAll(String host, Promise<List<InetAddress>> promise) {
            executor().execute(() -> {
                try {
                    promise.trySuccess(Arrays.asList(lookup.all(host)));
                } catch (UnknownHostException | RuntimeException e) {
                    promise.tryFailure(e);
                }
            });
        }
    }
}
