/** Value types of the OCI specs (digests, names, references, media types), validated once at parse. No dependencies. */
package dev.pullthrough.oci;
