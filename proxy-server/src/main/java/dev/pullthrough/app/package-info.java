/**
 * The composition root: the only place that builds concrete objects (the opened storage, the
 * upstream clients, the pull-through services and their threads, the listeners) and the logging.
 */
package dev.pullthrough.app;
