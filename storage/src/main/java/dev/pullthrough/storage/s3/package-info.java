/**
 * The S3-compatible bucket that replicas share ({@code storage.s3}): blobs and manifests under
 * content-addressed keys, reached with the AWS SDK's asynchronous client on Netty.
 */
package dev.pullthrough.storage.s3;
