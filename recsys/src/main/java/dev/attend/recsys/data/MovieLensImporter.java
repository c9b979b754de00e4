package dev.attend.recsys.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * MovieLens ratings as behaviours ({@code action = "rate"}, every rating an interaction, as implicit-feedback
 * recommenders use them), with the movie's first genre as its category. Two layouts:
 * <ul>
 *   <li>100K: {@code u.data} ({@code user \t item \t rating \t unix_time}) and {@code u.item} ({@code |}-separated,
 *       latin-1, 19 genre flags at the end; category = the index of the first flag set, 0 "unknown" included);</li>
 *   <li>the later sets: {@code ratings.csv} ({@code userId,movieId,rating,timestamp}) and {@code movies.csv}
 *       ({@code movieId,title,genres}, genres {@code |}-separated; category = the first genre's index in order of
 *       first appearance in the file).</li>
 * </ul>
 * A rating of a movie the movie file does not list is skipped ("unknown item"), as are malformed rows.
 */
public final class MovieLensImporter {

    private MovieLensImporter() {
    }

    /** Reads the directory's layout: {@code u.data} + {@code u.item}, or {@code ratings.csv} + {@code movies.csv}. */
    public static Imported read(Path dir) throws IOException {
        if (Files.isRegularFile(dir.resolve("u.data"))) {
            return read100k(dir.resolve("u.data"), dir.resolve("u.item"));
        }
        if (Files.isRegularFile(dir.resolve("ratings.csv"))) {
            return readCsv(dir.resolve("ratings.csv"), dir.resolve("movies.csv"));
        }
        throw new IOException(dir + " holds neither u.data (MovieLens 100K) nor ratings.csv (later MovieLens sets)");
    }

    static Imported read100k(Path ratings, Path items) throws IOException {
        Map<Long, Long> genre = new HashMap<>();
        try (BufferedReader in = Files.newBufferedReader(items, StandardCharsets.ISO_8859_1)) {
            for (String row; (row = in.readLine()) != null; ) {
                String[] f = row.split("\\|", -1);
                long id = f.length >= 24 ? Fields.id(f[0]) : -1;
                if (id < 0) {
                    continue; // the item stays unknown: its ratings are reported as skipped
                }
                long category = 0;
                for (int g = 0; g < 19; g++) {
                    if (f[f.length - 19 + g].strip().equals("1")) {
                        category = g;
                        break;
                    }
                }
                genre.put(id, category);
            }
        }
        ImportReport report = new ImportReport(ratings.toString());
        List<BehaviorEvent> events = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(ratings, StandardCharsets.ISO_8859_1)) {
            long line = 0;
            for (String row; (row = in.readLine()) != null; ) {
                line++;
                if (row.isBlank()) {
                    continue;
                }
                report.countRow();
                String[] f = row.strip().split("\\s+");
                rating(f.length == 4 ? f : null, "expected 4 tab-separated fields", genre, report, events, line);
            }
        }
        return new Imported(events, report);
    }

    static Imported readCsv(Path ratings, Path movies) throws IOException {
        Map<Long, Long> genre = new HashMap<>();
        Map<String, Long> genreIds = new LinkedHashMap<>();
        try (BufferedReader in = Files.newBufferedReader(movies, StandardCharsets.UTF_8)) {
            in.readLine(); // header
            for (String row; (row = in.readLine()) != null; ) {
                String[] f = Fields.csv(row);
                long id = f != null && f.length == 3 ? Fields.id(f[0]) : -1;
                if (id < 0) {
                    continue;
                }
                String first = f[2].split("\\|", -1)[0].strip();
                genre.put(id, genreIds.computeIfAbsent(first, g -> (long) genreIds.size()));
            }
        }
        ImportReport report = new ImportReport(ratings.toString());
        List<BehaviorEvent> events = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(ratings, StandardCharsets.UTF_8)) {
            long line = 1;
            in.readLine(); // header
            for (String row; (row = in.readLine()) != null; ) {
                line++;
                if (row.isBlank()) {
                    continue;
                }
                report.countRow();
                String[] f = row.split(",", -1);
                rating(f.length == 4 ? f : null, "expected 4 comma-separated fields", genre, report, events, line);
            }
        }
        return new Imported(events, report);
    }

    /** One rating row {@code user, item, rating, time} into an event, or a skip with its reason. */
    private static void rating(String[] f, String shape, Map<Long, Long> genre, ImportReport report, List<BehaviorEvent> events,
                               long line) {
        if (f == null) {
            report.skip(shape, line);
            return;
        }
        long user = Fields.id(f[0]);
        long item = Fields.id(f[1]);
        long time = Fields.id(f[3]);
        if (user < 0 || item < 0) {
            report.skip("user or item is not a non-negative integer", line);
        } else if (time < 0) {
            report.skip("time is not a non-negative integer", line);
        } else if (!isRating(f[2])) {
            report.skip("rating is not a number", line);
        } else if (!genre.containsKey(item)) {
            report.skip("unknown item", line);
        } else {
            events.add(new BehaviorEvent(user, item, genre.get(item), "rate", time));
            report.countKept();
        }
    }

    private static boolean isRating(String s) {
        try {
            double r = Double.parseDouble(s.strip());
            return Double.isFinite(r);
        } catch (NumberFormatException e) {
            return false;
        }
    }
}
