package dev.pullthrough.layout;

/** Names in an OCI image layout, and the annotations by which the proxy finds an image's origin again. */
final class OciLayout {
    static final String LAYOUT_FILE = "oci-layout";
    static final String INDEX_FILE = "index.json";
    static final String REF_NAME = "org.opencontainers.image.ref.name";
    static final String UPSTREAM = "dev.pullthrough.upstream";
    static final String REPOSITORY = "dev.pullthrough.repository";

    private OciLayout() {}
}
