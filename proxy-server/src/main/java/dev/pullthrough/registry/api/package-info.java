/** The registry wire protocol as plain data: routes, their parser, error codes and the error body. No Netty types. */
package dev.pullthrough.registry.api;
