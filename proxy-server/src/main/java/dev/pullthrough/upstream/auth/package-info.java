/** Upstream authentication: challenge parsing and the token cache. */
package dev.pullthrough.upstream.auth;
