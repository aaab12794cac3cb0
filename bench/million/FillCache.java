import dev.pullthrough.oci.Digest;
import dev.pullthrough.storage.blob.BlobPaths;
import dev.pullthrough.storage.meta.RocksMetadataStore;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes a cache of N small blobs straight into a storage.path, as the proxy lays it out (blob files
 * by digest, index entries in RocksDB), without a proxy and without fsyncs: a million entries take
 * a minute or two instead of hours. Blob i holds "pullthrough bench blob i" padded to SIZE bytes; its
 * last access is i ms after a fixed start, so eviction order is known. The last (newest) blob,
 * which no eviction pass reaches, is linked to repository bench/million of upstream "u" for the
 * start-up probe.
 * Usage: java -cp pullthrough.jar FillCache.java STORAGE_PATH N SIZE
 */
public class FillCache {
    public static void main(String[] args) throws Exception {
        Path root = Path.of(args[0]);
        int count = Integer.parseInt(args[1]);
        int size = Integer.parseInt(args[2]);
        BlobPaths paths = new BlobPaths(root);
        long started = System.nanoTime();
        try (RocksMetadataStore metadata = new RocksMetadataStore(paths.metadataDir())) {
            byte[] bytes = new byte[size];
            for (int i = 0; i < count; i++) {
                byte[] label = ("pullthrough bench blob " + i).getBytes();
                java.util.Arrays.fill(bytes, (byte) 0);
                System.arraycopy(label, 0, bytes, 0, Math.min(label.length, size));
                Digest digest = Digest.sha256Of(bytes);
                Path file = paths.blob(digest);
                Files.createDirectories(file.getParent());
                Files.write(file, bytes);
                metadata.putBlob(digest, size, 1_600_000_000_000L + i);
                if (i == count - 1) {
                    metadata.link("u", "bench/million", digest);
                    System.out.println("probe " + digest);
                }
                if (i % 100_000 == 0 && i > 0) {
                    System.err.printf("%d entries, %.0f s%n", i, (System.nanoTime() - started) / 1e9);
                }
            }
        }
        System.err.printf("%d entries written in %.0f s%n", count, (System.nanoTime() - started) / 1e9);
    }
}
