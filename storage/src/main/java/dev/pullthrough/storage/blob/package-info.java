/** Content-addressed blob bytes on disk: verified writes, atomic commits, one class for the layout. No Netty, no HTTP. */
package dev.pullthrough.storage.blob;
