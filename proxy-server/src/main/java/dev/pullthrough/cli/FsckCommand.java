package dev.pullthrough.cli;

import dev.pullthrough.app.Storage;
import dev.pullthrough.storage.maintenance.Fsck;
import dev.pullthrough.storage.s3.BucketFsck;
import dev.pullthrough.storage.s3.S3Bucket;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code fsck}: re-hashes every cached blob and manifest, removes those that do not match. */
@Command(name = "fsck", mixinStandardHelpOptions = true,
        description = {"Verify every cached blob and manifest against its digest; remove bad ones. Exit 1 if any were bad.",
                "With storage.s3, the bucket's blobs and manifests too."})
public final class FsckCommand implements Callable<Integer> {
    @Mixin
    Commands.ConfigOption config;

    @Override
    public Integer call() {
        return Commands.withConfig(config, "fsck", loaded -> {
            try (Storage storage = Storage.open(loaded.storage())) {
                long started = System.nanoTime();
                Fsck.Report report = storage.fsck();
                long millis = (System.nanoTime() - started) / 1_000_000;
                report.bad().forEach(line -> System.out.println("bad: " + line));
                System.out.printf("fsck %s: %d blobs (%d bytes) and %d manifests checked in %d ms; %d bad entries removed; "
                                + "%d temp files removed, %d missing blobs forgotten, %d blobs re-indexed%n",
                        loaded.storage().path().toAbsolutePath(), report.blobsChecked(), report.bytesChecked(),
                        report.manifestsChecked(), millis, report.bad().size(), report.recovery().tempFilesRemoved(),
                        report.recovery().missingBlobsForgotten(), report.recovery().blobsIndexed());
                boolean bucketClean = true;
                if (loaded.storage().s3().isPresent()) {
                    try (S3Bucket bucket = S3Bucket.open(loaded.storage().s3().get())) {
                        long bucketStarted = System.nanoTime();
                        BucketFsck.Report shared = BucketFsck.check(bucket);
                        shared.bad().forEach(line -> System.out.println("bad in the bucket: " + line));
                        System.out.printf("fsck bucket %s: %d objects (%d bytes) checked in %d ms; %d bad objects removed%n",
                                loaded.storage().s3().get().bucket(), shared.objectsChecked(), shared.bytesChecked(),
                                (System.nanoTime() - bucketStarted) / 1_000_000, shared.bad().size());
                        bucketClean = shared.clean();
                    }
                }
                return report.clean() && bucketClean ? 0 : 1;
            }
        });
    }
}
