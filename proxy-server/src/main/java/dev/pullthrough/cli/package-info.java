/** The command line: {@code serve} and the maintenance commands, each parsing its arguments and reporting. */
package dev.pullthrough.cli;
