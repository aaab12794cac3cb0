package dev.pullthrough.cli;

import dev.pullthrough.app.Storage;
import dev.pullthrough.storage.maintenance.Fsck;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code fsck}: re-hashes every cached blob and manifest, removes those that do not match. */
@Command(name = "fsck", mixinStandardHelpOptions = true,
        description = "Verify every cached blob and manifest against its digest; remove bad ones. Exit 1 if any were bad.")
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
                return report.clean() ? 0 : 1;
            }
        });
    }
}
