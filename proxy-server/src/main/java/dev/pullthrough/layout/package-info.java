/** OCI image layout tars: export of cached images and import into another proxy's cache (air-gapped transfer). */
package dev.pullthrough.layout;
