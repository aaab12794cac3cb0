/**
 * What replicas share through the S3 bucket ({@code storage.s3}): every blob, manifest and
 * repository link this replica stores is written there too ({@link dev.pullthrough.bucket.BucketMirror}),
 * and what this replica lacks is read from there before the upstream is asked
 * ({@link dev.pullthrough.bucket.BucketFirstUpstream}). The local disk stays the fast front. With
 * {@code storage.s3.retention} every use is recorded ({@link dev.pullthrough.bucket.UseRecording}) and
 * what no replica used for that long is deleted ({@link dev.pullthrough.bucket.BucketRetention}).
 */
package dev.pullthrough.bucket;
