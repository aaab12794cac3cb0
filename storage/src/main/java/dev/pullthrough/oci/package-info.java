/**
 * Value types of the OCI specs (digests, names, references, media types, descriptors), validated once
 * at parse. Depends on Jackson only, to read a manifest's descriptors.
 */
package dev.pullthrough.oci;
