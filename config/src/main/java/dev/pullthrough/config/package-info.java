/** The configuration of the proxy: YAML and environment in, validated records out. Depends on Jackson only. */
package dev.pullthrough.config;
