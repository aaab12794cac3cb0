/** The pull-through decisions: upstream selection, the manifest and blob services, the shared blob download. No Netty. */
package dev.pullthrough.proxy;
