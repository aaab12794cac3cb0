/**
 * The client of upstream registries as the pull-through decisions see it: one method per endpoint,
 * typed answers and typed refusals ({@link dev.pullthrough.upstream.Upstream}), one loop for auth
 * and retry; the HTTP itself is {@code upstream.http}'s. May use Jackson and the config; no Netty.
 */
package dev.pullthrough.upstream;
