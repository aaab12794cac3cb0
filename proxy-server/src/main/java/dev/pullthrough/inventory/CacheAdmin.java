package dev.pullthrough.inventory;

import dev.pullthrough.inventory.CacheInventory.Repository;
import dev.pullthrough.oci.RepositoryName;
import dev.pullthrough.proxy.ImageReference;
import dev.pullthrough.proxy.Target;
import dev.pullthrough.proxy.UpstreamRouter;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The cache's contents and their removal, by image names as users write them:
 * {@code [UPSTREAM/]REPO[:TAG|@DIGEST]}, a repository alone meaning all of it. Names that do not
 * parse or route raise {@link IllegalArgumentException} with a message for the user.
 */
public final class CacheAdmin {
    private final UpstreamRouter router;
    private final CacheInventory inventory;
    private final CachePurge purge;

    public CacheAdmin(UpstreamRouter router, CacheInventory inventory, CachePurge purge) {
        this.router = router;
        this.inventory = inventory;
        this.purge = purge;
    }

    /** Every cached image, or those of one repository ({@code [UPSTREAM/]REPO}). */
    public List<CachedImage> images(Optional<String> repository) {
        return inventory.list(repository.map(name -> repositoryOf(RepositoryName.parse(name))));
    }

    public PurgeResult purge(String image) {
        boolean whole = image.indexOf('@') < 0 && image.lastIndexOf(':') < image.lastIndexOf('/') + 1;
        if (whole) {
            return purge.purge(image, repositoryOf(RepositoryName.parse(image)), Optional.empty());
        }
        ImageReference reference = ImageReference.parse(image);
        return purge.purge(image, repositoryOf(reference.name()), Optional.of(reference.reference()));
    }

    public List<PurgeResult> purgeUnusedFor(Duration unused) {
        return purge.purgeUnusedFor(unused);
    }

    private Repository repositoryOf(RepositoryName name) {
        UpstreamRouter.Result routed = router.route(name, Optional.empty());
        if (routed.error().isPresent()) {
            throw new IllegalArgumentException(name + ": " + routed.error().get().message());
        }
        Target target = routed.target().orElseThrow();
        return new Repository(target.upstreamName(), target.repository().value());
    }
}
