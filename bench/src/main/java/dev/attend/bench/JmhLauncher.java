package dev.attend.bench;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.openjdk.jmh.Main;

/**
 * Runs {@code org.openjdk.jmh.Main}, appending the JVM flags of conf/jvm.options to every forked JVM
 * (the Vector API module, native access, GC) unless the caller passes {@code -jvmArgsAppend} itself.
 */
final class JmhLauncher {

    /** Overrides where conf/jvm.options is looked for. */
    static final String OPTIONS_PROPERTY = "attend.jvm.options";

    private JmhLauncher() {
    }

    static void run(String[] args) throws Exception {
        List<String> all = new ArrayList<>(List.of(args));
        boolean own = all.stream().anyMatch(a -> a.equals("-jvmArgsAppend"));
        boolean info = all.stream().anyMatch(a -> a.equals("-h") || a.equals("-l") || a.equals("-lp") || a.equals("-lrf")
                || a.equals("-lprof"));
        if (!own && !info) {
            Path file = findJvmOptions();
            if (file == null) {
                System.err.println("bench jmh: conf/jvm.options not found (set -D" + OPTIONS_PROPERTY
                        + "=PATH); forks get only the @Fork flags");
            } else {
                List<String> flags = readJvmOptions(file);
                System.err.println("bench jmh: forks get " + flags + " from " + file);
                all.addAll(0, List.of("-jvmArgsAppend", String.join(" ", flags)));
            }
        }
        Main.main(all.toArray(String[]::new));
    }

    /** The flags of a java @argfile: one or more per line, '#' comments and blank lines skipped. */
    static List<String> readJvmOptions(Path file) throws IOException {
        List<String> flags = new ArrayList<>();
        for (String line : Files.readAllLines(file)) {
            String s = line.strip();
            if (s.isEmpty() || s.startsWith("#")) {
                continue;
            }
            for (String part : s.split("\\s+")) {
                flags.add(part);
            }
        }
        return flags;
    }

    /** conf/jvm.options: from the system property, else above the working directory or this class's location. */
    static Path findJvmOptions() {
        String prop = System.getProperty(OPTIONS_PROPERTY);
        if (prop != null && !prop.isBlank()) {
            Path p = Path.of(prop.startsWith("@") ? prop.substring(1) : prop);
            return Files.isRegularFile(p) ? p : null;
        }
        List<Path> starts = new ArrayList<>();
        starts.add(Path.of("").toAbsolutePath());
        try {
            starts.add(Path.of(JmhLauncher.class.getProtectionDomain().getCodeSource().getLocation().toURI()));
        } catch (URISyntaxException | RuntimeException e) {
            // no code source: the working directory is enough
        }
        for (Path start : starts) {
            for (Path dir = start; dir != null; dir = dir.getParent()) {
                Path candidate = dir.resolve("conf").resolve("jvm.options");
                if (Files.isRegularFile(candidate)) {
                    return candidate;
                }
            }
        }
        return null;
    }
}
