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
