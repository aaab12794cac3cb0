/** Who may pull: htpasswd users (bcrypt). Client address ranges and mTLS live with the listener. */
package dev.pullthrough.access;
