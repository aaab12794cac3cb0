package dev.pullthrough.proxy;

import dev.pullthrough.oci.MediaTypes;
import dev.pullthrough.storage.meta.TagResolution;
import java.util.Optional;
import java.util.Set;

/**
 * Which cached resolution of a tag answers a client, and what an upstream answer tells us about
 * the tag. A registry answers a tag with the manifest it stores whenever the client lists that
 * manifest's media type explicitly; otherwise it decides per client (a list's platform child for a
 * client listing no list type, a converted schema 1, an error). So a tag's own manifest is kept once
 * and serves every client that lists its type; answers per accept set are kept only for the rest.
 */
final class TagAnswers {
    private TagAnswers() {}

    /**
     * The resolution that answers a client accepting {@code types}: the tag's own manifest when the
     * client lists its type, or what the upstream answered this very accept set; the more recently
     * checked when both fit.
     */
    static Optional<TagResolution> choose(Optional<TagResolution> own, Optional<TagResolution> forAccept, Set<String> types) {
        Optional<TagResolution> fittingOwn = own.filter(r -> types.contains(r.mediaType()));
        if (fittingOwn.isEmpty()) {
            return forAccept;
        }
        if (forAccept.isEmpty() || fittingOwn.get().checkedAtMillis() >= forAccept.get().checkedAtMillis()) {
            return fittingOwn;
        }
        return forAccept;
    }

    /**
     * Whether an upstream answer of {@code mediaType} to a client accepting {@code types} is the
     * manifest the tag stores. An index always is (no registry makes one up). Anything else is
     * only when the client listed both list types, so a list could not have been passed over for
     * one of its children, and listed the answer's type, so nothing was converted for it.
     */
    static boolean isOwn(String mediaType, Set<String> types) {
        if (MediaTypes.isIndex(mediaType)) {
            return true;
        }
        return types.contains(MediaTypes.DOCKER_MANIFEST_LIST) && types.contains(MediaTypes.OCI_INDEX)
                && types.contains(mediaType);
    }

    /** Whether the answer must also be kept for this accept set: {@link #choose} would not find it as the tag's own. */
    static boolean keepForAcceptSet(String mediaType, Set<String> types) {
        return !isOwn(mediaType, types) || !types.contains(mediaType);
    }
}
