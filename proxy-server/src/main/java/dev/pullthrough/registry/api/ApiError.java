package dev.pullthrough.registry.api;

import java.nio.charset.StandardCharsets;

/** One OCI error: a code, a message for humans, and the body {@code {"errors":[{...}]}} it is sent as. */
public record ApiError(ErrorCode code, String message) {
    public static ApiError of(ErrorCode code) {
        return new ApiError(code, code.defaultMessage());
    }

    public int status() {
        return code.status();
    }

    /** The longest message a status line carries; the body keeps it whole. */
    public static final int MAX_STATUS_LINE_MESSAGE = 400;

    /**
     * The message as a status line's reason phrase may carry it: printable ASCII only (anything else,
     * line breaks included, becomes {@code ?}), at most {@value #MAX_STATUS_LINE_MESSAGE} characters.
     */
    public String statusLineMessage() {
        StringBuilder out = new StringBuilder(Math.min(message.length(), MAX_STATUS_LINE_MESSAGE + 3));
        for (int i = 0; i < message.length() && out.length() < MAX_STATUS_LINE_MESSAGE; i++) {
            char c = message.charAt(i);
            out.append(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return message.length() > MAX_STATUS_LINE_MESSAGE ? out.append("...").toString() : out.toString();
    }

    /** The JSON body; the single writer of error bodies. */
    public byte[] body() {
        return ("{\"errors\":[{\"code\":\"" + code.name() + "\",\"message\":\"" + escape(message) + "\",\"detail\":null}]}\n")
                .getBytes(StandardCharsets.UTF_8);
    }

    private static String escape(String text) {
        StringBuilder out = new StringBuilder(text.length() + 8);
        for (char c : text.toCharArray()) {
            switch (c) {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                default:
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
            }
        }
        return out.toString();
    }
}
