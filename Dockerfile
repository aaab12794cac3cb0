# Build: the whole reactor with Maven, tests skipped (they need a registry, skopeo and dockerd).
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY pom.xml .
COPY config config
COPY storage storage
COPY proxy-server proxy-server
RUN mvn -B -q -DskipTests package

# Run: a slim Java runtime with only the jar.
FROM eclipse-temurin:17-jre
RUN useradd --system --uid 10001 pullthrough \
 && mkdir -p /var/lib/pullthrough /etc/pullthrough \
 && chown pullthrough /var/lib/pullthrough
COPY --from=build /src/proxy-server/target/pullthrough.jar /opt/pullthrough/pullthrough.jar
COPY jvm.options /opt/pullthrough/jvm.options
USER pullthrough
ENV PULLTHROUGH_STORAGE_PATH=/var/lib/pullthrough
VOLUME ["/var/lib/pullthrough", "/etc/pullthrough"]
EXPOSE 5000 5001
# serve by default; with a config: docker run ... -v ./pullthrough.yml:/etc/pullthrough/config.yml:ro IMAGE serve --config /etc/pullthrough/config.yml
# the maintenance commands run the same way (fsck, prefetch, export, import) against the data volume.
# the JVM options are the ones the README's run command uses (jvm.options at the repository's root)
ENTRYPOINT ["java", "@/opt/pullthrough/jvm.options", "-jar", "/opt/pullthrough/pullthrough.jar"]
CMD ["serve"]
