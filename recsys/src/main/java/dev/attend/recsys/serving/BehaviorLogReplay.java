package dev.attend.recsys.serving;

import static dev.attend.recsys.serving.BehaviorLogFormat.EVENT_FIXED;
import static dev.attend.recsys.serving.BehaviorLogFormat.FORMAT_BATCHES;
import static dev.attend.recsys.serving.BehaviorLogFormat.FORMAT_EVENTS;
import static dev.attend.recsys.serving.BehaviorLogFormat.FORMAT_VERSION;
import static dev.attend.recsys.serving.BehaviorLogFormat.HEADER_BYTES;
import static dev.attend.recsys.serving.BehaviorLogFormat.MAGIC;
import static dev.attend.recsys.serving.BehaviorLogFormat.MAX_RECORD_BYTES;
import static dev.attend.recsys.serving.BehaviorLogFormat.RECORD_HEADER;
import static dev.attend.recsys.serving.BehaviorLogFormat.RECORD_HEADER_3;
import static dev.attend.recsys.serving.BehaviorLogFormat.RECORD_MAGIC;
import static dev.attend.recsys.serving.BehaviorLogFormat.RECORD_MAGIC_3;
import static dev.attend.recsys.serving.BehaviorLogFormat.header3;
import static dev.attend.recsys.serving.BehaviorLogFormat.readRecord;
import static dev.attend.recsys.serving.BehaviorSequenceStore.CUT_FILE;
import static dev.attend.recsys.serving.BehaviorSequenceStore.LOG_FILE;
import static dev.attend.recsys.serving.BehaviorSequenceStore.STORE;

import dev.attend.index.store.DamageLog;
import dev.attend.index.store.DurableFile;
import dev.attend.index.store.Quarantine;
import dev.attend.index.store.UnsupportedFormatException;
import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.serving.BehaviorLogFormat.Record;
import dev.attend.recsys.serving.BehaviorLogFormat.Window;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.zip.CRC32C;

/**
 * Recovery of the behaviour log when its store opens: the cut a failed write left pending ({@value
 * BehaviorSequenceStore#CUT_FILE}), then the replay, which tells a write cut short by a crash (cut off silently) from
 * damage (skipped, the log copied to the quarantine and reported before anything is cut).
 */
final class BehaviorLogReplay {

    /** Events handed to the store at a time while replaying. */
    private static final int APPLY_BATCH = 4096;
    private static final System.Logger LOG = System.getLogger(BehaviorSequenceStore.class.getName());

    private BehaviorLogReplay() {
    }

    /**
     * What a replay found: the log's format, the events read, whether damage was skipped or cut, and whether a copy
     * of the damaged log is kept in the quarantine (false: the log must be left as it is, never rewritten).
     */
    record Replay(int format, long events, boolean damaged, boolean copyKept) {
    }

    /**
     * Honours a {@link BehaviorSequenceStore#CUT_FILE} marker: cuts the log where it says (the bytes after it, a batch
     * whose write failed and whose client was told so, copied to the quarantine and reported), then removes the
     * marker. A marker that cannot be read is an {@link IOException}: the store does not open rather than replay a
     * batch that was refused.
     */
    static void cutFailedWrite(Path file, Path dir) throws IOException {
        Path marker = dir.resolve(CUT_FILE);
        if (!Files.exists(marker)) {
            return;
        }
        long cutAt;
        try (DurableFile.Reader r = DurableFile.open(marker, BehaviorLog.CUT_CODEC, 1, 1)) {
            cutAt = r.in().readLong();
        } catch (IOException e) {
            throw new IOException("the behaviour store does not open: " + marker + " (where a failed write is to be cut off the log) cannot"
                    + " be read (" + e.getMessage() + "); an operator must decide: remove it to replay the log as it is", e);
        }
        if (Files.exists(file)) {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                long size = ch.size();
                if (size > cutAt) {
                    String reason = "the last " + (size - cutAt) + " bytes (at " + cutAt + ") are a batch whose write failed (its client was told"
                            + " so) and could not be cut back then: cut off now";
                    Path copy = Files.createTempFile(dir, LOG_FILE + ".", ".failed-write");
                    boolean kept = false;
                    try {
                        try (FileChannel out = FileChannel.open(copy, StandardOpenOption.WRITE)) {
                            for (long at = cutAt; at < size; ) {
                                at += ch.transferTo(at, size - at, out);
                            }
                            out.force(true);
                        }
                        kept = Quarantine.moveAside(dir, STORE, "behaviour log", copy, reason) != null;
                    } catch (IOException e) {
                        DamageLog.report(STORE, "behaviour log", file, null, reason + " (no copy of them could be kept: " + e.getMessage() + ")");
                    } finally {
                        if (!kept) {
                            Files.deleteIfExists(copy);
                        }
                    }
                    ch.truncate(cutAt);
                    ch.force(true);
                } else if (size < cutAt) {
                    LOG.log(System.Logger.Level.WARNING, marker + " says to cut the log at " + cutAt + " but it holds " + size
                            + " bytes: nothing cut; the replay checks it");
                }
            }
        }
        Files.delete(marker);
        DurableFile.forceDirectory(dir);
    }

    /**
     * Whether the bytes from {@code pos} to the end, where no valid record starts, are a write cut short by a crash
     * (never acknowledged): all zero (the file grew, the data never landed), or a strict prefix of a record whose
     * header checks (format 3), whose magic and length fit (older formats, which have no header check), or too short
     * to hold a header but starting as one. Anything else is damage.
     */
    private static boolean tornTail(Window w, long pos, long size, int format, CRC32C crc) throws IOException {
        boolean zero = true;
        for (long p = pos; p < size && zero; p += 1 << 16) {
            ByteBuffer b = w.at(p, (int) Math.min(1 << 16, size - p));
            while (b.hasRemaining()) {
                if (b.get() != 0) {
                    zero = false;
                    break;
                }
            }
        }
        if (zero) {
            return true;
        }
        long left = size - pos;
        if (format == FORMAT_EVENTS) {
            if (left < 8) {
                return true;
            }
            int length = w.at(pos, 4).getInt();
            return length >= EVENT_FIXED + 1 && length <= EVENT_FIXED + BoundedSequence.MAX_ACTION_BYTES && 8 + (long) length > left;
        }
        int magic = format == FORMAT_BATCHES ? RECORD_MAGIC : RECORD_MAGIC_3;
        int header = format == FORMAT_BATCHES ? RECORD_HEADER : RECORD_HEADER_3;
        if (left < header) { // a header cut short: its bytes must be the magic's, as far as they go
            ByteBuffer m = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(magic);
            ByteBuffer b = w.at(pos, (int) Math.min(4, left));
            for (int i = 0; b.hasRemaining(); i++) {
                if (b.get() != m.get(i)) {
                    return false;
                }
            }
            return true;
        }
        if (format == FORMAT_VERSION) {
            ByteBuffer h = header3(w, pos, crc);
            return h != null && header + (long) h.getInt(4) > left;
        }
        ByteBuffer h = w.at(pos, RECORD_HEADER);
        int length = h.getInt(4);
        return h.getInt(0) == magic && length >= 4 && length <= MAX_RECORD_BYTES && header + (long) length > left;
    }

    /** The next position after {@code from} where a valid record starts, or -1 when there is none. */
    private static long nextRecord(Window w, long from, long size, int format, CRC32C crc) throws IOException {
        int magic = format == FORMAT_BATCHES ? RECORD_MAGIC : RECORD_MAGIC_3;
        for (long p = from; p + (format == FORMAT_EVENTS ? 8 : RECORD_HEADER) <= size; p++) {
            if (format != FORMAT_EVENTS) {
                ByteBuffer m = w.at(p, 4);
                if (m == null || m.getInt() != magic) {
                    continue;
                }
            }
            if (readRecord(w, p, format, crc) != null) {
                return p;
            }
        }
        return -1;
    }

    /**
     * Replays the log into {@code into}: skips damaged records that have valid ones after them (copying the log to
     * the quarantine and reporting it), cuts a torn tail off the file.
     */
    static Replay replay(Path file, Path dir, Consumer<List<BehaviorEvent>> into) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long size = ch.size();
            ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            while (header.hasRemaining() && ch.read(header) >= 0) {
                // read the whole header
            }
            header.flip();
            Window w = new Window(ch, size);
            CRC32C crc = new CRC32C();
            long pos = HEADER_BYTES;
            List<String> skipped = new ArrayList<>();
            long skippedBytes = 0;
            int magic = header.remaining() < HEADER_BYTES ? 0 : header.getInt();
            int format = header.remaining() < 4 ? 0 : header.getInt();
            if (magic != MAGIC || format < FORMAT_EVENTS || format > FORMAT_VERSION) {
                long first = nextRecord(w, 0, size, FORMAT_VERSION, crc);
                int found = FORMAT_VERSION;
                if (first < 0) {
                    first = nextRecord(w, 0, size, FORMAT_BATCHES, crc);
                    found = FORMAT_BATCHES;
                }
                if (first < 0) { // no record of this store anywhere in it: not damage, another file (left as it is)
                    if (magic == MAGIC) {
                        throw new UnsupportedFormatException(file, "behaviour log format " + format + "; this build reads formats "
                                + FORMAT_EVENTS + " to " + FORMAT_VERSION + " (left as it is)");
                    }
                    throw new IOException(file + " is not a behaviour log (bad header); left as it is");
                }
                format = found; // a damaged header before valid records: skip it like any damage
                skipped.add("the header (bytes 0 to " + first + ")");
                skippedBytes += first;
                pos = first;
            }
            long events = 0;
            List<BehaviorEvent> pending = new ArrayList<>();
            while (pos < size) {
                Record r = readRecord(w, pos, format, crc);
                if (r != null) {
                    pending.addAll(r.events());
                    if (pending.size() >= APPLY_BATCH) {
                        into.accept(pending);
                        pending.clear();
                    }
                    events += r.events().size();
                    pos += r.length();
                    continue;
                }
                long next = nextRecord(w, pos + 1, size, format, crc);
                if (next < 0) {
                    break; // nothing valid after it: a torn tail
                }
                skipped.add("bytes " + pos + " to " + next);
                skippedBytes += next - pos;
                pos = next;
            }
            into.accept(pending);
            List<String> problems = new ArrayList<>();
            if (!skipped.isEmpty()) {
                problems.add(skipped.size() + " damaged stretch(es) of the log (" + skippedBytes + " bytes: "
                        + String.join(", ", skipped.subList(0, Math.min(5, skipped.size()))) + (skipped.size() > 5 ? ", ..." : "")
                        + ") skipped; the valid records after them were kept (" + events + " events replayed)");
            }
            boolean torn = pos < size && tornTail(w, pos, size, format, crc);
            if (pos < size && !torn) {
                problems.add("the last " + (size - pos) + " bytes (at " + pos + ") are damaged, not a write cut short by a crash"
                        + " (no valid record follows them)");
            }
            boolean kept = true;
            if (!problems.isEmpty()) {
                String reason = String.join("; ", problems);
                kept = quarantineCopy(file, dir, reason);
                if (!kept) {
                    DamageLog.report(STORE, "behaviour log", file, null, reason + ". No copy of the log could be kept in the quarantine,"
                            + " so it is left as it is (not cut or rewritten): the damage is skipped again at each open");
                }
            }
            if (pos < size && (torn || kept)) {
                ch.truncate(pos); // a torn write at the crash (never acknowledged), or damage now copied to the quarantine
                ch.force(true);
            }
            return new Replay(format, events, !problems.isEmpty(), kept);
        }
    }

    /**
     * Copies the log into the store's quarantine (the log itself stays, to be cut or rewritten) and reports why; false
     * (reported, the copy removed) when no copy could be kept there.
     */
    private static boolean quarantineCopy(Path file, Path dir, String reason) {
        Path copy = null;
        try {
            copy = Files.createTempFile(dir, file.getFileName() + ".", ".damaged");
            Files.copy(file, copy, StandardCopyOption.REPLACE_EXISTING);
            try (FileChannel c = FileChannel.open(copy, StandardOpenOption.WRITE)) {
                c.force(true);
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.ERROR, "the damaged behaviour log " + file + " could not be copied to the quarantine", e);
            delete(copy);
            return false;
        }
        if (Quarantine.moveAside(dir, STORE, "behaviour log", copy, reason) == null) {
            delete(copy);
            return false;
        }
        return true;
    }

    private static void delete(Path p) {
        if (p != null) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "could not remove " + p, e);
            }
        }
    }
}
