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

    /** The manifest types of schema 2 and OCI: what a registry serves as a manifest. */
    public static boolean isManifest(String mediaType) {
        return DOCKER_MANIFEST_V2.equals(mediaType) || DOCKER_MANIFEST_LIST.equals(mediaType)
                || OCI_MANIFEST.equals(mediaType) || OCI_INDEX.equals(mediaType);
    }

    public static boolean isIndex(String mediaType) {
        return DOCKER_MANIFEST_LIST.equals(mediaType) || OCI_INDEX.equals(mediaType);
    }
}
