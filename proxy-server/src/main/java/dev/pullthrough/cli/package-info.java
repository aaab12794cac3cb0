/** The command line and the composition root; the only place that builds concrete objects. */
package dev.pullthrough.cli;
