/** The client of upstream registries: one method per endpoint, one loop for auth and retry (JDK HttpClient). */
package dev.pullthrough.upstream;
