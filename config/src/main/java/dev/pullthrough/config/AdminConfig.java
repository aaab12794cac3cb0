package dev.pullthrough.config;

/** The admin listener (/metrics, /healthz, /readyz); the registry port when both are equal. */
public record AdminConfig(int port) {}
