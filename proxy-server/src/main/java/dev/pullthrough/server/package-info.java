/** The Netty server: listeners, the connection pipeline, the request handler and the response writer. */
package dev.pullthrough.server;
