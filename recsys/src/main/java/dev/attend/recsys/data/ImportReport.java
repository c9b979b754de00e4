package dev.attend.recsys.data;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What an import read: rows seen, events kept, and the rows skipped by reason (with the first few line
 * numbers of each), so that a malformed file is reported, never a crash and never silently half-read.
 */
public final class ImportReport {

    /** Line numbers kept per reason. */
    static final int EXAMPLES = 5;

    private final String source;
    private long rows;
    private long kept;
    private final Map<String, Long> skipped = new TreeMap<>();
    private final Map<String, List<Long>> examples = new TreeMap<>();

    ImportReport(String source) {
        this.source = source;
    }

    void countRow() {
        rows++;
    }

    void countKept() {
        kept++;
    }

    void skip(String reason, long line) {
        skipped.merge(reason, 1L, Long::sum);
        List<Long> lines = examples.computeIfAbsent(reason, r -> new ArrayList<>());
        if (lines.size() < EXAMPLES) {
            lines.add(line);
        }
    }

    public String source() {
        return source;
    }

    /** Data rows read (blank lines and headers excluded). */
    public long rows() {
        return rows;
    }

    /** Events imported. */
    public long kept() {
        return kept;
    }

    /** Rows skipped, by reason. */
    public Map<String, Long> skipped() {
        return Collections.unmodifiableMap(skipped);
    }

    public long skippedTotal() {
        return skipped.values().stream().mapToLong(Long::longValue).sum();
    }

    /** The first line numbers (1-based) skipped for {@code reason}. */
    public List<Long> examples(String reason) {
        return List.copyOf(examples.getOrDefault(reason, List.of()));
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder(source + ": " + rows + " rows, " + kept + " events");
        if (!skipped.isEmpty()) {
            b.append(", skipped ").append(skippedTotal()).append(':');
            skipped.forEach((reason, n) -> b.append(' ').append(reason).append(" x").append(n)
                    .append(" (lines ").append(examples.get(reason)).append(')'));
        }
        return b.toString();
    }
}
