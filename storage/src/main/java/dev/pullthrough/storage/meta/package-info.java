/** Metadata (manifests, tag resolutions) in RocksDB; the only package that imports org.rocksdb. */
package dev.pullthrough.storage.meta;
