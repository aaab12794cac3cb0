/**
 * Replicas coordinating through Redis ({@code cluster}): leases that name the one replica that
 * downloads a blob, so the cluster fetches it once; shared tag resolutions; the bucket retention's
 * use records and its one-at-a-time pass.
 */
package dev.pullthrough.cluster;
