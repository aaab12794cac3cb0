package dev.pullthrough.oci;

/** The manifest media types a registry negotiates by {@code Accept}. */
public final class MediaTypes {
    public static final String DOCKER_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json";
    public static final String DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
    public static final String DOCKER_MANIFEST_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
    public static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
    public static final String OCTET_STREAM = "application/octet-stream";

    private MediaTypes() {}

    public static boolean isIndex(String mediaType) {
        return DOCKER_MANIFEST_LIST.equals(mediaType) || OCI_INDEX.equals(mediaType);
    }
}
