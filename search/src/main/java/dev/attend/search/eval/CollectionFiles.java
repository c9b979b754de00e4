package dev.attend.search.eval;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/** File helpers the layouts share: gzip by name, one file by pattern, UTF-8 with undecodable bytes as U+FFFD. */
final class CollectionFiles {

    private CollectionFiles() {
    }

    /** A UTF-8 reader of {@code file}, through gzip when its name ends in {@code .gz}; a bad byte reads as U+FFFD. */
    static BufferedReader open(Path file) throws IOException {
        InputStream in = Files.newInputStream(file);
        if (file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".gz")) {
            in = new GZIPInputStream(in, 1 << 16);
        }
        return new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPLACE).onUnmappableCharacter(CodingErrorAction.REPLACE)), 1 << 16);
    }

    /** What to do with one non-blank line of a file: its text and its 1-based number. */
    interface LineHandler {
        void line(String line, int number) throws IOException;
    }

    /** Hands every non-blank line of {@code file} (gzip by name) to {@code handler}, with its number. */
    static void eachLine(Path file, LineHandler handler) throws IOException {
        try (BufferedReader in = open(file)) {
            int number = 0;
            for (String line; (line = in.readLine()) != null; ) {
                number++;
                if (!line.isBlank()) {
                    handler.line(line, number);
                }
            }
        }
    }

    /** {@code s} as an integer, or null when it is not one. */
    static Integer integer(String s) {
        try {
            return Integer.valueOf(s);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** The names of the regular files in {@code dir}, sorted. */
    static List<String> names(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(Files::isRegularFile).map(f -> f.getFileName().toString()).sorted().toList();
        }
    }

    /** The one regular file in {@code dir} whose name matches; an error naming what was found otherwise. */
    static Path onlyFile(Path dir, Predicate<String> name, String what) throws IOException {
        List<String> found = names(dir).stream().filter(name).toList();
        if (found.size() != 1) {
            throw new IOException(dir + ": expected one " + what + " file, found " + (found.isEmpty() ? "none" : found));
        }
        return dir.resolve(found.getFirst());
    }

    /** {@code file}, or {@code file.gz} when only that is there. */
    static Path plainOrGzip(Path dir, String name) throws IOException {
        Path plain = dir.resolve(name);
        if (Files.isRegularFile(plain)) {
            return plain;
        }
        Path gz = dir.resolve(name + ".gz");
        if (Files.isRegularFile(gz)) {
            return gz;
        }
        throw new IOException(dir + ": " + name + " is missing");
    }
}
