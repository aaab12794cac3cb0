package dev.pullthrough.storage.s3;

import dev.pullthrough.config.S3Config;
import dev.pullthrough.oci.Digest;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.function.Consumer;
import org.reactivestreams.Publisher;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.async.AsyncRequestBody;
import software.amazon.awssdk.core.async.AsyncResponseTransformer;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.async.SdkAsyncHttpClient;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.NoSuchBucketException;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.presigner.S3Presigner;

/**
 * One bucket, as the cache uses it: objects under content-addressed keys
 * ({@code PREFIX blobs/sha256/HEX}, {@code PREFIX manifests/sha256/HEX}), read, written whole and
 * presigned. Every call is asynchronous (the SDK's Netty client); none blocks the caller's thread.
 */
public final class S3Bucket implements AutoCloseable {
    /** What a key names: blob bytes, or a manifest's exact bytes with its media type as Content-Type. */
    public enum Kind {
        BLOBS("blobs"), MANIFESTS("manifests");

        private final String folder;

        Kind(String folder) {
            this.folder = folder;
        }
    }

    private final S3AsyncClient client;
    private final S3Presigner presigner;
    private final SdkAsyncHttpClient http;
    private final String bucket;
    private final String prefix;

    private S3Bucket(S3AsyncClient client, S3Presigner presigner, SdkAsyncHttpClient http, String bucket, String prefix) {
        this.client = client;
        this.presigner = presigner;
        this.http = http;
        this.bucket = bucket;
        this.prefix = prefix;
    }

    /** A client for {@code config}'s bucket; nothing is sent until the first call. */
    public static S3Bucket open(S3Config config) {
        AwsCredentialsProvider credentials = config.accessKey().isPresent()
                ? StaticCredentialsProvider.create(AwsBasicCredentials.create(config.accessKey().get(), config.secretKey().orElseThrow()))
                : DefaultCredentialsProvider.builder().build();
        S3Configuration addressing = S3Configuration.builder().pathStyleAccessEnabled(config.pathStyle()).build();
        SdkAsyncHttpClient http = NettyNioAsyncHttpClient.builder().maxConcurrency(64).build();
        // Checksums only where S3 requires them: the SDK's default (a CRC trailer on every upload,
        // aws-chunked) is not understood by every S3-compatible store (S3Proxy refuses it), and every
        // digest is verified by the cache itself anyway.
        var clientBuilder = S3AsyncClient.builder().httpClient(http).region(Region.of(config.region()))
                .credentialsProvider(credentials).serviceConfiguration(addressing)
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
        var presignerBuilder = S3Presigner.builder().region(Region.of(config.region())).credentialsProvider(credentials)
                .serviceConfiguration(addressing);
        config.endpoint().ifPresent(endpoint -> {
            clientBuilder.endpointOverride(endpoint);
            presignerBuilder.endpointOverride(endpoint);
        });
        return new S3Bucket(clientBuilder.build(), presignerBuilder.build(), http, config.bucket(), config.prefix());
    }

    /** Creates the bucket unless it exists (tests; operators usually create theirs). */
    public CompletableFuture<Void> createIfMissing() {
        return client.headBucket(b -> b.bucket(bucket)).thenApply(exists -> (Void) null)
                .exceptionallyCompose(failure -> isMissing(failure)
                        ? client.createBucket(b -> b.bucket(bucket)).thenApply(created -> null)
                        : CompletableFuture.failedFuture(unwrap(failure)));
    }

    /** The object key of a blob or manifest. */
    public String key(Kind kind, Digest digest) {
        return prefix + kind.folder + "/" + digest.algorithm() + "/" + digest.hex();
    }

    /** The object's size, or empty when there is no such object. */
    public CompletableFuture<Optional<Long>> size(String key) {
        return client.headObject(b -> b.bucket(bucket).key(key))
                .thenApply(head -> Optional.of(head.contentLength()))
                .exceptionally(failure -> {
                    if (isMissing(failure)) {
                        return Optional.empty();
                    }
                    throw new CompletionException(unwrap(failure));
                });
    }

    /** Writes {@code file} under {@code key} in one request; the object appears whole or not at all. */
    public CompletableFuture<Void> putFile(String key, Path file, String contentType) {
        return client.putObject(b -> b.bucket(bucket).key(key).contentType(contentType), AsyncRequestBody.fromFile(file))
                .thenApply(done -> null);
    }

    public CompletableFuture<Void> putBytes(String key, byte[] bytes, String contentType) {
        return client.putObject(b -> b.bucket(bucket).key(key).contentType(contentType), AsyncRequestBody.fromBytes(bytes))
                .thenApply(done -> null);
    }

    /** A small object's bytes and Content-Type (a manifest's media type). */
    public record Content(byte[] bytes, String contentType) {}

    /** An object being read: its size and its bytes as they arrive, at the pace the subscriber asks. */
    public record Stream(long size, Publisher<ByteBuffer> bytes) {}

    /** The object's bytes (for manifests: small), or empty when there is none. */
    public CompletableFuture<Optional<byte[]>> bytes(String key) {
        return content(key).thenApply(content -> content.map(Content::bytes));
    }

    /** The object's bytes and Content-Type, or empty when there is none. */
    public CompletableFuture<Optional<Content>> content(String key) {
        return client.getObject(b -> b.bucket(bucket).key(key), AsyncResponseTransformer.toBytes())
                .thenApply(response -> Optional.of(new Content(response.asByteArray(), response.response().contentType())))
                .exceptionally(failure -> {
                    if (isMissing(failure)) {
                        return Optional.empty();
                    }
                    throw new CompletionException(unwrap(failure));
                });
    }

    /** The object streamed (a blob), or empty when there is none. */
    public CompletableFuture<Optional<Stream>> stream(String key) {
        return client.getObject(b -> b.bucket(bucket).key(key), AsyncResponseTransformer.toPublisher())
                .thenApply(response -> Optional.of(new Stream(response.response().contentLength(), response)))
                .exceptionally(failure -> {
                    if (isMissing(failure)) {
                        return Optional.empty();
                    }
                    throw new CompletionException(unwrap(failure));
                });
    }

    /**
     * The key that records that {@code upstream} holds {@code digest} in {@code repository}: what
     * lets a replica serve another's copy to that repository without asking the upstream.
     */
    public String linkKey(String upstream, String repository, Digest digest) {
        return prefix + "links/" + upstream + "/" + repository + "/" + digest.algorithm() + "/" + digest.hex();
    }

    /** The keys under {@code prefix + folder} of this kind, in key order, page by page (blocking). */
    public void forEachKey(Kind kind, Consumer<String> action) {
        client.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(prefix + kind.folder + "/"))
                .contents().subscribe(object -> action.accept(object.key())).join();
    }

    /** An object as a listing names it. */
    public record Listed(String key, long size) {}

    /**
     * Every blob, manifest and repository-link object under the prefix, a page (up to 1000) at a
     * time, each page handed to {@code page} on the calling thread once it arrived (blocking): what
     * the retention pass weighs, without holding the whole listing.
     */
    public void forEachObjectPage(Consumer<List<Listed>> page) {
        for (String folder : new String[] {Kind.BLOBS.folder, Kind.MANIFESTS.folder, "links"}) {
            String token = null;
            do {
                String after = token;
                var listed = client.listObjectsV2(b -> b.bucket(bucket).prefix(prefix + folder + "/").continuationToken(after)).join();
                page.accept(listed.contents().stream().map(object -> new Listed(object.key(), object.size())).toList());
                token = Boolean.TRUE.equals(listed.isTruncated()) ? listed.nextContinuationToken() : null;
            } while (token != null);
        }
    }

    /**
     * The digest any of our object keys ends with: a blob's, a manifest's, or the one a repository link
     * names ({@code .../ALGORITHM/HEX}); empty for a key that is none of these.
     */
    public Optional<Digest> digestNamedBy(String key) {
        if (!key.startsWith(prefix)) {
            return Optional.empty();
        }
        String[] parts = key.substring(prefix.length()).split("/");
        if (parts.length < 3 || !List.of(Kind.BLOBS.folder, Kind.MANIFESTS.folder, "links").contains(parts[0])
                || parts[0].equals("links") && parts.length < 5 || !parts[0].equals("links") && parts.length != 3) {
            return Optional.empty();
        }
        try {
            return Optional.of(Digest.parse(parts[parts.length - 2] + ":" + parts[parts.length - 1]));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** A multipart upload begun and neither completed nor aborted. */
    public record UnfinishedUpload(String key, String uploadId, Instant initiated) {}

    /** The multipart uploads under the prefix not completed nor aborted yet (blocking). */
    public List<UnfinishedUpload> unfinishedUploads() {
        List<UnfinishedUpload> uploads = new ArrayList<>();
        client.listMultipartUploadsPaginator(b -> b.bucket(bucket).prefix(prefix)).uploads()
                .subscribe(upload -> uploads.add(new UnfinishedUpload(upload.key(), upload.uploadId(), upload.initiated()))).join();
        return uploads;
    }

    /** The object's bytes as a blocking stream (fsck reads whole blobs without holding them in memory). */
    public Optional<InputStream> read(String key) {
        try {
            return Optional.of(client.getObject(b -> b.bucket(bucket).key(key), AsyncResponseTransformer.toBlockingInputStream()).join());
        } catch (CompletionException e) {
            if (isMissing(e)) {
                return Optional.empty();
            }
            throw e;
        }
    }

    public CompletableFuture<Void> delete(String key) {
        return client.deleteObject(b -> b.bucket(bucket).key(key)).thenApply(done -> null);
    }

    /** The digest a blob or manifest key names, or empty for a key that is not one. */
    public Optional<Digest> digestOf(Kind kind, String key) {
        String folder = prefix + kind.folder + "/";
        if (!key.startsWith(folder)) {
            return Optional.empty();
        }
        String[] parts = key.substring(folder.length()).split("/");
        if (parts.length != 2) {
            return Optional.empty();
        }
        try {
            return Optional.of(Digest.parse(parts[0] + ":" + parts[1]));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** A part of a multipart upload, as S3 acknowledged it. */
    public record Part(int number, String etag) {}

    /** Starts a multipart upload of {@code key}; nothing is visible under the key until it completes. */
    public CompletableFuture<String> startUpload(String key, String contentType) {
        return client.createMultipartUpload(b -> b.bucket(bucket).key(key).contentType(contentType))
                .thenApply(created -> created.uploadId());
    }

    /**
     * Uploads {@code length} bytes of {@code file} from {@code position} as part {@code number}
     * (1-based), read on {@code reads} in small pieces: the file may still be growing (the SDK's own
     * file body refuses a file whose size changes while it reads).
     */
    public CompletableFuture<Part> uploadPart(String key, String uploadId, int number, Path file, long position, long length,
                                              ExecutorService reads) {
        FileChannel channel;
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ).position(position);
        } catch (IOException e) {
            return CompletableFuture.failedFuture(e);
        }
        AsyncRequestBody body = AsyncRequestBody.fromInputStream(new RangeInputStream(channel, length), length, reads);
        return client.uploadPart(b -> b.bucket(bucket).key(key).uploadId(uploadId).partNumber(number).contentLength(length), body)
                .thenApply(uploaded -> new Part(number, uploaded.eTag()))
                .whenComplete((part, failure) -> {
                    try {
                        channel.close();
                    } catch (IOException ignored) {
                        // a read-only channel: nothing was left unwritten
                    }
                });
    }

    /** {@code length} bytes of a channel from its position on. */
    private static final class RangeInputStream extends InputStream {
        private final InputStream in;
        private long left;

        RangeInputStream(FileChannel channel, long length) {
            this.in = Channels.newInputStream(channel);
            this.left = length;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] into, int offset, int length) throws IOException {
            if (left <= 0) {
                return -1;
            }
            int n = in.read(into, offset, (int) Math.min(length, left));
            if (n > 0) {
                left -= n;
            }
            return n;
        }
    }

    /** Makes the uploaded parts, in order, the object under {@code key}. */
    public CompletableFuture<Void> completeUpload(String key, String uploadId, List<Part> parts) {
        List<CompletedPart> completed = parts.stream()
                .map(part -> CompletedPart.builder().partNumber(part.number()).eTag(part.etag()).build()).toList();
        return client.completeMultipartUpload(b -> b.bucket(bucket).key(key).uploadId(uploadId)
                .multipartUpload(m -> m.parts(completed))).thenApply(done -> null);
    }

    /** Drops an upload and its parts: nothing appears under the key. */
    public CompletableFuture<Void> abortUpload(String key, String uploadId) {
        return client.abortMultipartUpload(b -> b.bucket(bucket).key(key).uploadId(uploadId)).thenApply(done -> null);
    }

    /** A URL that lets its holder GET the object for {@code ttl}, without credentials of their own. */
    public URI presignedGet(String key, Duration ttl) {
        return URI.create(presigner.presignGetObject(b -> b.signatureDuration(ttl)
                .getObjectRequest(get -> get.bucket(bucket).key(key))).url().toString());
    }

    private static boolean isMissing(Throwable failure) {
        Throwable cause = unwrap(failure);
        return cause instanceof NoSuchKeyException || cause instanceof NoSuchBucketException
                || cause instanceof S3Exception s3 && s3.statusCode() == 404;
    }

    private static Throwable unwrap(Throwable failure) {
        return failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    }

    @Override
    public void close() {
        presigner.close();
        client.close();
        http.close();
    }
}
