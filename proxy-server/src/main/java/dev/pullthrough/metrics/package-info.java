/** Metrics: every meter name in one class; the only package that imports Micrometer. */
package dev.pullthrough.metrics;
