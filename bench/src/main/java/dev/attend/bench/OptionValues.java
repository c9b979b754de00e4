package dev.attend.bench;

import java.util.Arrays;

/**
 * Option values the benches read beyond picocli's types: counts written as numbers ({@code 1e6}), comma-separated
 * lists of them. Each throws an IllegalArgumentException that names the option and the value.
 */
final class OptionValues {

    private OptionValues() {
    }

    /** A comma-separated list of integers >= 1, each as written. */
    static int[] positiveInts(String name, String value) {
        try {
            int[] out = Arrays.stream(value.split(",", -1)).map(String::strip).mapToInt(Integer::parseInt).toArray();
            if (out.length == 0 || Arrays.stream(out).anyMatch(x -> x < 1)) {
                throw new IllegalArgumentException(name + " takes integers >= 1, separated by commas: '" + value + "'");
            }
            return out;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " takes integers >= 1, separated by commas: '" + value + "'");
        }
    }

    /** A comma-separated list of numbers rounded to integers >= {@code min} (empty entries skipped). */
    static int[] roundedInts(String name, String value, int min) {
        try {
            int[] out = Arrays.stream(value.split(",")).map(String::strip).filter(s -> !s.isEmpty())
                    .mapToInt(s -> (int) Math.round(Double.parseDouble(s))).toArray();
            if (out.length == 0 || Arrays.stream(out).anyMatch(x -> x < min)) {
                throw new IllegalArgumentException(name + " needs integers >= " + min + ", got '" + value + "'");
            }
            return out;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " needs comma-separated integers, got '" + value + "'");
        }
    }

    /** A number. */
    static double number(String name, String value) {
        try {
            return Double.parseDouble(value.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " needs numbers, got '" + value + "'");
        }
    }

    /** A number rounded to a positive integer. */
    static int positive(String name, String value) {
        double d = number(name, value);
        if (!(d >= 1) || d > Integer.MAX_VALUE - 1) {
            throw new IllegalArgumentException(name + " needs a positive integer, got '" + value + "'");
        }
        return (int) Math.round(d);
    }
}
