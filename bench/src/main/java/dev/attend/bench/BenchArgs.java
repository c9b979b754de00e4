package dev.attend.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** The command lines of the benches: {@code --name value} or {@code --name=value} options, and valueless flags. */
final class BenchArgs {

    /** One option as given: its value is null for a flag. */
    record Option(String name, String value) {
    }

    /** {@code --help} or {@code -h} on the command line: the caller prints its usage. */
    static final class HelpRequested extends RuntimeException {
        HelpRequested() {
            super(null, null, false, false);
        }
    }

    private BenchArgs() {
    }

    /**
     * The options of {@code args} in order; names in {@code flags} take no value. Throws {@link HelpRequested}
     * for {@code --help}/{@code -h} and an IllegalArgumentException for an option without its value.
     */
    static List<Option> parse(String[] args, Set<String> flags) {
        List<Option> out = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String name = args[i];
            String value = null;
            int eq = name.indexOf('=');
            if (name.startsWith("--") && eq > 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            if (name.equals("--help") || name.equals("-h")) {
                throw new HelpRequested();
            }
            if (flags.contains(name)) {
                if (value != null) {
                    throw new IllegalArgumentException(name + " takes no value");
                }
            } else if (value == null) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(name + " needs a value");
                }
                value = args[++i];
            }
            out.add(new Option(name, value));
        }
        return out;
    }

    /** A comma-separated list of integers >= 1 (option {@code name}'s value), or an IllegalArgumentException saying which. */
    static int[] positiveInts(String name, String value) {
        try {
            int[] out = java.util.Arrays.stream(value.split(",", -1)).map(String::strip).mapToInt(Integer::parseInt).toArray();
            if (out.length == 0 || java.util.Arrays.stream(out).anyMatch(x -> x < 1)) {
                throw new IllegalArgumentException(name + " takes integers >= 1, separated by commas: '" + value + "'");
            }
            return out;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " takes integers >= 1, separated by commas: '" + value + "'");
        }
    }
}
