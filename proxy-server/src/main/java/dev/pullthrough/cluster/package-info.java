/**
 * Replicas coordinating through Redis ({@code cluster}): leases that name the one replica that
 * downloads a blob, so the cluster fetches it once.
 */
package dev.pullthrough.cluster;
