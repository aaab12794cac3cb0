package dev.pullthrough.config;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses the byte sizes of the config file: a whole number and one of B, KiB, MiB, GiB, TiB. */
public final class Sizes {
    private static final Pattern SIZE = Pattern.compile("(\\d{1,15})\\s*(B|KiB|MiB|GiB|TiB)");

    private Sizes() {}

    public static long parse(String key, String text) {
        Matcher m = SIZE.matcher(text.trim());
        if (!m.matches()) {
            throw new ConfigException(key, "'" + text + "' is not a size", "use e.g. 500MiB or 50GiB (units B, KiB, MiB, GiB, TiB)");
        }
        long n = Long.parseLong(m.group(1));
        int shift;
        switch (m.group(2)) {
            case "B": shift = 0; break;
            case "KiB": shift = 10; break;
            case "MiB": shift = 20; break;
            case "GiB": shift = 30; break;
            default: shift = 40;
        }
        if (n > (Long.MAX_VALUE >> shift)) {
            throw new ConfigException(key, "'" + text + "' is too large", "use a size below 8 EiB");
        }
        return n << shift;
    }

    /** As the config file writes it, in the largest unit that is exact: {@code 50GiB}, {@code 1500B}. */
    public static String format(long bytes) {
        String[] names = {"TiB", "GiB", "MiB", "KiB"};
        for (int i = 0; i < names.length; i++) {
            int shift = 40 - 10 * i;
            if (bytes != 0 && bytes % (1L << shift) == 0) {
                return (bytes >> shift) + names[i];
            }
        }
        return bytes + "B";
    }
}
