# Pullthrough's image: a Java runtime cut down by jlink to the modules the jar uses, on a small glibc
# base (issue 30). The base images are build arguments (defaults: the public ones), so a site that
# cannot pull them names its own:
#   docker build -t pullthrough .
#   docker build --build-arg JDK_IMAGE=local/jdk17 --build-arg BASE_IMAGE=local/bookworm-minbase \
#     --build-arg JAR_FROM=context -t pullthrough .
# JDK_IMAGE: a full JDK 17 with its jmods and jlink on the PATH (only the jlink stage runs on it).
# BASE_IMAGE: glibc, libstdc++ and zlib (RocksDB's native library and the runtime need them), a
# shell and useradd (the run stage uses them). Alpine's musl does not do.
# JAR_FROM=context copies proxy-server/target/pullthrough.jar, built outside (mvn -B -DskipTests
# package), instead of building it in the image (BuildKit then skips the Maven stage).
ARG BUILD_IMAGE=maven:3.9-eclipse-temurin-17
ARG JDK_IMAGE=eclipse-temurin:17-jdk
ARG BASE_IMAGE=debian:bookworm-slim
ARG JAR_FROM=build

# ---- build: dependencies first (a layer that changes only with the POMs), then the sources
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY pom.xml .
COPY config/pom.xml config/pom.xml
COPY storage/pom.xml storage/pom.xml
COPY proxy-server/pom.xml proxy-server/pom.xml
RUN mvn -B -q dependency:go-offline -DexcludeArtifactIds=config,storage || true
COPY config config
COPY storage storage
COPY proxy-server proxy-server
RUN mvn -B -q -DskipTests package && cp proxy-server/target/pullthrough.jar /pullthrough.jar

FROM scratch AS context
COPY proxy-server/target/pullthrough.jar /pullthrough.jar

FROM ${JAR_FROM} AS jar

# ---- runtime: the JDK modules the jar uses, as `jdeps --print-module-deps --ignore-missing-deps` on the
# jar lists them, except java.desktop and java.compiler: only classes the proxy never loads name them
# (SnakeYAML's bean introspection, Jackson's optional java.beans support, Micrometer's Log4j2 binder,
# commons-compress' pack200, Error Prone's annotations); java.desktop alone is 11 MB. Added to the list:
# jdk.crypto.ec, the elliptic curves of TLS to upstreams and the bucket (no class names it; the JDK's
# security providers load it by name). --compress=2 is zip (JDK 17's highest).
FROM ${JDK_IMAGE} AS runtime
ARG JAVA_MODULES=java.base,java.naming,java.security.jgss,java.sql,jdk.crypto.ec,jdk.jfr,jdk.management,jdk.net,jdk.unsupported
RUN jlink --add-modules "${JAVA_MODULES}" --strip-debug --no-header-files --no-man-pages --compress=2 \
      --output /opt/java

# ---- run: the runtime, the jar, the JVM options of the README's run command, a default config
FROM ${BASE_IMAGE}
# --no-log-init: no lastlog/faillog entry for uid 10001 (a sparse file that a layer would store in full)
RUN (useradd --system --no-log-init --uid 10001 --user-group --no-create-home pullthrough 2>/dev/null \
      || adduser -S -u 10001 pullthrough) \
 && mkdir -p /var/lib/pullthrough /etc/pullthrough \
 && chown pullthrough /var/lib/pullthrough
COPY --from=runtime /opt/java /opt/java
ENV JAVA_HOME=/opt/java PATH=/opt/java/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY --from=jar /pullthrough.jar /opt/pullthrough/pullthrough.jar
COPY jvm.options /opt/pullthrough/jvm.options
COPY deploy/image-config.yml /etc/pullthrough/config.yml
USER 10001
ENV PULLTHROUGH_STORAGE_PATH=/var/lib/pullthrough
# glibc keeps a 64 MiB arena per busy thread (RocksDB's, Netty's) otherwise: resident memory crept
# up after bursts of large manifests (issue 26). See jvm.options.
ENV MALLOC_ARENA_MAX=2
VOLUME ["/var/lib/pullthrough"]
EXPOSE 5000 5001
# jvm.options: heap 128 MiB, direct memory 256 MiB, -XX:+ExitOnOutOfMemoryError (the orchestrator restarts it).
# SIGTERM drains, then stops (java is PID 1 and gets the signal): 5 s at least, up to 30 s with pulls in flight
# (server.drainDelay, server.drainTimeout); give docker stop -t 35. Another config:
#   docker run -v ./my.yml:/etc/pullthrough/config.yml:ro ...; the maintenance commands run the same way:
#   docker run --rm -v cache:/var/lib/pullthrough pullthrough list
ENTRYPOINT ["java", "@/opt/pullthrough/jvm.options", "-jar", "/opt/pullthrough/pullthrough.jar"]
CMD ["serve", "--config", "/etc/pullthrough/config.yml"]
