/** The admin endpoints (/metrics, /healthz, /readyz) as plain answers. */
package dev.pullthrough.admin;
