/**
 * The pull-through decisions: upstream selection, tag answers, the manifest, blob, listing and catalog
 * services, the one admission of manifests, the shared blob download. They see the upstream only
 * through typed answers and never wait on it with a thread. No Netty, no HTTP client.
 */
package dev.pullthrough.proxy;
