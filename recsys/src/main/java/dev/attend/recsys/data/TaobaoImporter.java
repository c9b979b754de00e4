package dev.attend.recsys.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The Taobao UserBehavior CSV ({@code user,item,category,behavior,unix_time}; behavior one of {@code pv},
 * {@code cart}, {@code fav}, {@code buy}). A header line is allowed; malformed rows are skipped and counted
 * by reason in the {@link ImportReport}.
 */
public final class TaobaoImporter {

    static final Set<String> ACTIONS = Set.of("pv", "cart", "fav", "buy");

    private TaobaoImporter() {
    }

    public static Imported read(Path csv) throws IOException {
        try (BufferedReader in = Files.newBufferedReader(csv, StandardCharsets.UTF_8)) {
            return read(in, csv.toString());
        }
    }

    static Imported read(BufferedReader in, String source) throws IOException {
        ImportReport report = new ImportReport(source);
        List<BehaviorEvent> events = new ArrayList<>();
        long line = 0;
        for (String row; (row = in.readLine()) != null; ) {
            line++;
            if (row.isBlank() || (line == 1 && row.toLowerCase(Locale.ROOT).startsWith("user"))) {
                continue;
            }
            report.countRow();
            String[] f = row.split(",", -1);
            if (f.length != 5) {
                report.skip("expected 5 fields", line);
                continue;
            }
            long user = Fields.id(f[0]);
            long item = Fields.id(f[1]);
            long category = Fields.id(f[2]);
            long time = Fields.id(f[4]);
            String action = f[3].strip();
            if (user < 0 || item < 0 || category < 0) {
                report.skip("user, item or category is not a non-negative integer", line);
            } else if (time < 0) {
                report.skip("time is not a non-negative integer", line);
            } else if (!ACTIONS.contains(action)) {
                report.skip("unknown behavior", line);
            } else {
                events.add(new BehaviorEvent(user, item, category, action, time));
                report.countKept();
            }
        }
        return new Imported(events, report);
    }
}
