package dev.attend.server.cli;

import java.io.Console;
import java.io.PrintStream;
import java.util.Locale;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarStyle;
import me.tongfei.progressbar.ProgressState;

/**
 * The progress of a long CLI job: a bar redrawn in place on a terminal; anywhere else (a log, a pipe, CI) a plain
 * line at each tenth of the way, since a redrawn bar there is a screen of carriage returns.
 */
final class CliProgress {

    private CliProgress() {
    }

    /** Whether standard output and input are a terminal (a bar can redraw in place). */
    static boolean onTerminal() {
        Console c = System.console();
        return c != null && c.isTerminal();
    }

    /** A progress of {@code max} steps of {@code unit} (e.g. " events"; null for none), with its speed when asked. */
    static ProgressBar start(String task, long max, String unit, boolean speed) {
        return start(task, max, unit, speed, onTerminal(), System.err, 1000);
    }

    /** The same, drawn as on a terminal or in plain lines to {@code plainOut}, looked at every {@code intervalMillis}. */
    static ProgressBar start(String task, long max, String unit, boolean speed, boolean terminal, PrintStream plainOut, int intervalMillis) {
        ProgressBarBuilder b = new ProgressBarBuilder().setTaskName(task).setInitialMax(max).setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(intervalMillis);
        if (unit != null) {
            b.setUnit(unit, 1);
        }
        if (speed) {
            b.showSpeed();
        }
        if (!terminal) {
            PlainLines lines = new PlainLines(unit == null ? "" : unit, plainOut);
            b.setRenderer(lines::render).setConsumer(lines);
        }
        return b.build();
    }

    /** Renders a line only when the job has passed another tenth (or ends), and prints what it renders. */
    private static final class PlainLines implements ProgressBarConsumer {

        private final String unit;
        private final PrintStream out;
        private int lastTenth = -1;

        PlainLines(String unit, PrintStream out) {
            this.unit = unit;
            this.out = out;
        }

        synchronized String render(ProgressState s, int width) {
            long max = s.getMax();
            long current = s.getCurrent();
            int tenth = max <= 0 ? 0 : (int) Math.min(10, current * 10 / max);
            if (tenth == lastTenth) {
                return "";
            }
            lastTenth = tenth;
            long seconds = s.getTotalElapsed().toSeconds();
            String extra = s.getExtraMessage() == null || s.getExtraMessage().isBlank() ? "" : ", " + s.getExtraMessage();
            return max > 0
                    ? String.format(Locale.ROOT, "%s %d%% (%,d of %,d%s), %d s%s", s.getTaskName(), tenth * 10, current, max, unit, seconds, extra)
                    : String.format(Locale.ROOT, "%s %,d%s, %d s%s", s.getTaskName(), current, unit, seconds, extra);
        }

        @Override
        public int getMaxRenderedLength() {
            return 200;
        }

        @Override
        public synchronized void accept(String line) {
            if (!line.isEmpty()) {
                out.println(line);
                out.flush();
            }
        }

        @Override
        public void clear() {
        }

        @Override
        public void close() {
        }
    }
}
