import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Issue 28 (j): what the per-blob fsync at commit costs a download. Writes and hashes BLOBS blobs of
 * MIB MiB each into a temp file, renames it, and either fsyncs each before its rename ("fsync"),
 * never ("none"), or after the whole batch on a second thread while the next blobs are written
 * ("batched": what a background syncer does). Prints wall and process CPU seconds of the writes
 * (what a client waits on) and of the writeback that is still owed afterwards (a final sync).
 * Usage: java bench/durability/CommitCost.java DIR MIB BLOBS MODE
 */
public class CommitCost {
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int mib = Integer.parseInt(args[1]);
        int blobs = Integer.parseInt(args[2]);
        String mode = args[3];
        Files.createDirectories(dir.resolve("tmp"));
        Files.createDirectories(dir.resolve("blobs"));
        ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 20);
        byte[] random = new byte[1 << 20];
        new Random(28).nextBytes(random);
        chunk.put(random).flip();
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        List<Path> committed = new ArrayList<>();
        Thread syncer = null;
        long cpu0 = os.getProcessCpuTime();
        long wall0 = System.nanoTime();
        for (int b = 0; b < blobs; b++) {
            Path temp = dir.resolve("tmp").resolve(mode + b + ".part");
            Path target = dir.resolve("blobs").resolve(mode + b);
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                for (int i = 0; i < mib; i++) {
                    ByteBuffer hash = chunk.duplicate();
                    sha.update(hash);
                    ByteBuffer write = chunk.duplicate();
                    while (write.hasRemaining()) {
                        channel.write(write);
                    }
                }
                sha.digest();
                if (mode.equals("fsync")) {
                    channel.force(true);
                }
            }
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
            committed.add(target);
            if (mode.equals("batched") && (syncer == null || !syncer.isAlive())) {
                List<Path> batch = new ArrayList<>(committed);
                committed.clear();
                syncer = new Thread(() -> forceAll(batch));
                syncer.start();
            }
        }
        long writeWall = System.nanoTime() - wall0;
        long writeCpu = os.getProcessCpuTime() - cpu0;
        if (syncer != null) {
            syncer.join();
        }
        forceAll(committed); // what is still owed: the writeback a later download would compete with
        long totalWall = System.nanoTime() - wall0;
        long totalCpu = os.getProcessCpuTime() - cpu0;
        double mibs = (double) mib * blobs;
        System.out.printf("%-8s %4d x %4d MiB: writes %.2f s wall (%.0f MiB/s) %.2f s cpu; until durable %.2f s wall %.2f s cpu%n",
                mode, blobs, mib, writeWall / 1e9, mibs / (writeWall / 1e9), writeCpu / 1e9, totalWall / 1e9, totalCpu / 1e9);
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private static void forceAll(List<Path> files) {
        for (Path file : files) {
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
                channel.force(true);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }
}
