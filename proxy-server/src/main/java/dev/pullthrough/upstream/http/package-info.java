/**
 * The HTTP/1.1 transport to upstream registries, on Netty: pooled keep-alive connections per origin,
 * TLS, an upstream's egress proxy (CONNECT), deadlines, bodies aggregated (bounded) or streamed with
 * backpressure. No registry logic here; the only package besides {@code server} that may use Netty.
 */
package dev.pullthrough.upstream.http;
