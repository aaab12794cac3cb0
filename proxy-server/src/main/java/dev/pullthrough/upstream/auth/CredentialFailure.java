package dev.pullthrough.upstream.auth;

import java.io.IOException;

/**
 * No credentials could be had: a credential helper that failed, hung past its deadline or printed
 * something else than its protocol's JSON, or a password file that cannot be read. The message names
 * the helper or the file and never holds a secret.
 */
public final class CredentialFailure extends IOException {
    public CredentialFailure(String message) {
        super(message);
    }
}
