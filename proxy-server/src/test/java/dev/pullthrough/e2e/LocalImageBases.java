package dev.pullthrough.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The two base images the Dockerfile takes as build arguments, made here because none can be pulled:
 * a minimal Debian (BASE_IMAGE) and the build machine's own JDK on it (JDK_IMAGE, where jlink runs).
 */
final class LocalImageBases {
    /** debootstrap's minbase, trimmed; kept between runs (a debootstrap takes minutes). */
    private static final Path ROOTFS_CACHE = Path.of("/var/cache/pullthrough-tests/minbase-bookworm.tar");
    static final String BASE = "pullthrough-test/minbase:bookworm";
    static final String JDK = "pullthrough-test/jdk17:bookworm";
    /** jlink --strip-debug strips the native libraries with objcopy (binutils). */
    private static final Path OBJCOPY = Path.of("/usr/bin/objcopy");
    private static final Pattern LDD_PATH = Pattern.compile("(/\\S+) \\(0x");

    private final Path temp;
    private final Consumer<String[]> docker;

    /** {@code docker} runs one docker command (its arguments) and fails the test if it fails. */
    LocalImageBases(Path temp, Consumer<String[]> docker) {
        this.temp = temp;
        this.docker = docker;
    }

    /**
     * Debian bookworm's minbase: glibc, libstdc++6 (RocksDB's native library), zlib, a shell, useradd and
     * coreutils; without apt's caches and lists, documentation, manual pages and translations.
     */
    void importBase() throws IOException {
        if (!Files.exists(ROOTFS_CACHE)) {
            Path debootstrap = Processes.require("/usr/sbin/debootstrap", "debootstrap");
            Path rootfs = temp.resolve("rootfs");
            Processes.runOk(900, debootstrap.toString(), "--variant=minbase", "--include=libstdc++6",
                    "bookworm", rootfs.toString(), "http://deb.debian.org/debian");
            Processes.runOk(60, "sh", "-c", "cd '" + rootfs + "' && rm -rf var/cache/apt/* var/lib/apt/lists/*"
                    + " usr/share/doc usr/share/man usr/share/info usr/share/locale");
            Files.createDirectories(ROOTFS_CACHE.getParent());
            Path partial = ROOTFS_CACHE.resolveSibling(ROOTFS_CACHE.getFileName() + ".partial");
            Processes.runOk(300, "tar", "-C", rootfs.toString(), "-cf", partial.toString(), ".");
            Files.move(partial, ROOTFS_CACHE);
            Processes.runOk(120, "rm", "-rf", rootfs.toString());
        }
        docker.accept(new String[] {"import", ROOTFS_CACHE.toString(), BASE});
    }

    /**
     * The base plus the JDK running this test at /opt/jdk (its jmods are what jlink links), and the
     * build machine's objcopy with the libraries it needs that the base lacks. One flat layer: docker
     * import refuses a tar that names a path twice, so nothing the base has is added again.
     */
    void importJdk() throws IOException {
        Path jdk = Path.of(System.getProperty("java.home"));
        if (!Files.isDirectory(jdk.resolve("jmods"))) {
            throw new AssertionError("the JDK running the tests (" + jdk + ") has no jmods for jlink:"
                    + " install openjdk-17-jdk-headless and run Maven with it");
        }
        Processes.require(OBJCOPY.toString(), "binutils");
        Path tar = temp.resolve("jdk.tar");
        Files.copy(ROOTFS_CACHE, tar);
        // -h: Debian's JDK links its configuration into /etc/java-17-openjdk; the image gets the files.
        Processes.runOk(300, "tar", "-rhf", tar.toString(), "-C", jdk.toString(), "--transform", "s,^,opt/jdk/,",
                "--exclude=lib/src.zip", "--exclude=lib/libatk-wrapper.so", "bin", "lib", "jmods", "conf", "release");
        List<String> objcopy = new ArrayList<>(List.of("tar", "-rhf", tar.toString(), "-C", "/"));
        objcopy.addAll(missingFrom(tar, filesOfObjcopy()));
        Processes.run(objcopy, 60).requireSuccess(objcopy);
        docker.accept(new String[] {"import", "--change", "ENV PATH=/opt/jdk/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                tar.toString(), JDK});
        Files.delete(tar);
    }

    /** objcopy and the libraries ldd finds for it, as paths under / without the leading slash. */
    private static List<String> filesOfObjcopy() throws IOException {
        List<String> files = new ArrayList<>(List.of(relative(OBJCOPY)));
        Matcher libraries = LDD_PATH.matcher(Processes.runOk(30, "ldd", OBJCOPY.toString()).output());
        while (libraries.find()) {
            files.add(relative(Path.of(libraries.group(1))));
        }
        return files;
    }

    /**
     * Under the name the loader asks for, in its real directory: bookworm's /lib is a link to usr/lib,
     * and an image layer must not put files under a path that the layer below has as a link.
     */
    private static String relative(Path file) throws IOException {
        return file.getParent().toRealPath().resolve(file.getFileName()).toString().substring(1);
    }

    private static List<String> missingFrom(Path tar, List<String> files) {
        Set<String> present = new HashSet<>();
        for (String entry : Processes.runOk(120, "tar", "-tf", tar.toString()).output().split("\n")) {
            present.add(entry.startsWith("./") ? entry.substring(2) : entry);
        }
        return files.stream().filter(file -> !present.contains(file)).toList();
    }
}
