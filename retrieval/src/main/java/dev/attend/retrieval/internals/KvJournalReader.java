package dev.attend.retrieval.internals;

import static dev.attend.retrieval.internals.KvJournal.APPEND;
import static dev.attend.retrieval.internals.KvJournal.APPEND_LAYER;
import static dev.attend.retrieval.internals.KvJournal.EVERY_KV_HEAD;
import static dev.attend.retrieval.internals.KvJournal.FILE_HEADER;
import static dev.attend.retrieval.internals.KvJournal.FILE_MAGIC;
import static dev.attend.retrieval.internals.KvJournal.FORMAT;
import static dev.attend.retrieval.internals.KvJournal.MAX_BODY;
import static dev.attend.retrieval.internals.KvJournal.MIN_BODY;
import static dev.attend.retrieval.internals.KvJournal.PREFILL;
import static dev.attend.retrieval.internals.KvJournal.PREFILL_WITH_HEADS;
import static dev.attend.retrieval.internals.KvJournal.RECORD_HEADER;
import static dev.attend.retrieval.internals.KvJournal.RECORD_MAGIC;

import dev.attend.retrieval.internals.KvJournal.Good;
import dev.attend.retrieval.internals.KvJournal.Lost;
import dev.attend.retrieval.internals.KvJournal.Replay;
import dev.attend.retrieval.internals.KvJournal.Scan;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;
import java.util.zip.CRC32C;

/**
 * Reads a {@link KvJournal} (format 1 or 2, {@link KvJournal} describes both): replays its intact records in order,
 * skips damaged ones (finding the next record by its magic and header checksum) and says what was lost.
 */
final class KvJournalReader {

    private KvJournalReader() {
    }

    /** {@link KvJournal#replay}. */
    static Scan replay(Path file, Replay replay) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size >= 4 && readInt(ch, 0) == FILE_MAGIC) {
                return replay2(ch, size, replay, false);
            }
            if (size >= FILE_HEADER + RECORD_HEADER && probe(ch, size, FILE_HEADER).good != null) {
                return replay2(ch, size, replay, true); // format 2 with a damaged file header: its records are intact
            }
            if (size > 0 && size < 4 && allZero(ch, 0, size)) {
                return new Scan(FORMAT, size, 0, List.of(), List.of(), null, size, null); // a header cut short
            }
            return replay1(ch, size, replay);
        }
    }


    private static Scan replay2(FileChannel ch, long size, Replay replay, boolean headerDamaged) throws IOException {
        if (size < FILE_HEADER) {
            return new Scan(FORMAT, size, size, List.of(), List.of(), null, 0, null);
        }
        int format = readInt(ch, 4);
        if (format != FORMAT && !headerDamaged) {
            throw new IOException("journal format " + format + "; this build reads 1 and " + FORMAT);
        }
        List<Good> good = new ArrayList<>();
        List<Lost> lost = new ArrayList<>();
        if (headerDamaged) {
            lost.add(new Lost(0, FILE_HEADER, "the journal's file header; no record"));
        }
        long pos = FILE_HEADER;
        while (pos < size) {
            Probe p = probe(ch, size, pos);
            if (p.good != null) {
                String failed = apply(p.good, p.body, replay, !lost.isEmpty());
                if (failed != null) {
                    return new Scan(FORMAT, size, pos, good, lost, null, 0, failed);
                }
                good.add(p.good);
                pos = p.good.end(FORMAT);
                continue;
            }
            long next = resync(ch, size, pos + 1);
            if (next < 0) { // nothing intact after: the tail
                if (p.torn || allZero(ch, pos, size)) {
                    return new Scan(FORMAT, size, pos, good, lost, null, size - pos, null);
                }
                return new Scan(FORMAT, size, pos, good, lost, new Lost(pos, size, p.what), 0, null);
            }
            lost.add(new Lost(pos, next, p.what));
            pos = next;
        }
        return new Scan(FORMAT, size, pos, good, lost, null, 0, null);
    }

    private static Scan replay1(FileChannel ch, long size, Replay replay) throws IOException {
        List<Good> good = new ArrayList<>();
        long pos = 0;
        while (pos < size) {
            if (size - pos < 4) {
                return new Scan(1, size, pos, good, List.of(), null, size - pos, null);
            }
            int length = readInt(ch, pos);
            if (length < MIN_BODY || length > MAX_BODY) {
                return tail1(ch, size, pos, good, "a format-1 record with an impossible length " + length);
            }
            if (pos + 4 + length + 4 > size) {
                return new Scan(1, size, pos, good, List.of(), null, size - pos, null); // cut short: never acknowledged
            }
            ByteBuffer body = read(ch, pos + 4, length);
            CRC32 crc = new CRC32();
            crc.update(body.duplicate());
            if ((int) crc.getValue() != readInt(ch, pos + 4 + length)) {
                return tail1(ch, size, pos, good, "a format-1 record whose checksum fails");
            }
            Good g = new Good(pos, pos + 4, length);
            apply(body, replay);
            good.add(g);
            pos += 4 + length + 4;
        }
        return new Scan(1, size, pos, good, List.of(), null, 0, null);
    }

    /** A bad format-1 record at {@code pos}: format 1 cannot find the records after it, so any bytes after it are lost. */
    private static Scan tail1(FileChannel ch, long size, long pos, List<Good> good, String what) throws IOException {
        if (allZero(ch, pos, size)) {
            return new Scan(1, size, pos, good, List.of(), null, size - pos, null);
        }
        Lost l = new Lost(pos, size, what);
        // Whether bytes after the damaged record held more records cannot be told: the session would miss them.
        return new Scan(1, size, pos, good, List.of(), l, 0,
                "format-1 journal damaged at byte " + pos + " of " + size + " (" + what + "); the records after it cannot be found");
    }

    /** The record at {@code pos}: intact ({@code good}), or why not, whether merely cut short, and what it held. */
    private record Probe(Good good, ByteBuffer body, boolean torn, String what) {
        Probe(Good good, boolean torn, String what) {
            this(good, null, torn, what);
        }
    }

    private static Probe probe(FileChannel ch, long size, long pos) throws IOException {
        if (size - pos < RECORD_HEADER) {
            return new Probe(null, true, "a record header cut short");
        }
        ByteBuffer h = read(ch, pos, RECORD_HEADER);
        if (h.getInt(0) != RECORD_MAGIC) {
            return new Probe(null, false, "no record header; what it held is unknown");
        }
        if (!headerIntact(h.array(), 0)) {
            return new Probe(null, false, "a record header whose checksum fails; what it held is unknown");
        }
        int length = h.getInt(4);
        String what = h.getInt(12) == EVERY_KV_HEAD
                ? "layer " + h.getInt(8) + ", " + h.getInt(20) + " KV heads, position " + h.getInt(16)
                : "layer " + h.getInt(8) + ", KV head " + h.getInt(12) + ", positions [" + h.getInt(16) + ", "
                        + ((long) h.getInt(16) + h.getInt(20)) + ")";
        if (length < MIN_BODY || length > MAX_BODY) {
            return new Probe(null, false, what + ", impossible length " + length);
        }
        if (pos + RECORD_HEADER + length + 4L > size) {
            return new Probe(null, true, what + ", cut short");
        }
        ByteBuffer withCrc = read(ch, pos + RECORD_HEADER, length + 4); // one read for the body and its checksum
        ByteBuffer body = withCrc.slice(0, length);
        if (!bodyIntact(withCrc.array(), 0, length)) {
            return new Probe(null, false, what + ", its body's checksum fails");
        }
        if (!agrees(h, 0, body)) {
            return new Probe(null, false, what + ", its body disagrees with its header");
        }
        return new Probe(new Good(pos, pos + RECORD_HEADER, length), body, false, what);
    }

    /** {@link KvJournal#replayRecord}: {@link #probe}'s checks on one record in memory, then the record applied. */
    static void replayRecord(byte[] record, Replay replay) throws IOException {
        ByteBuffer r = ByteBuffer.wrap(record);
        if (record.length < RECORD_HEADER + MIN_BODY + 4 || r.getInt(0) != RECORD_MAGIC) {
            throw new IOException("not a KV journal record (" + record.length + " bytes)");
        }
        if (!headerIntact(record, 0)) {
            throw new IOException("a KV journal record whose header checksum fails");
        }
        int length = r.getInt(4);
        if (length < MIN_BODY || length > MAX_BODY || RECORD_HEADER + (long) length + 4 != record.length) {
            throw new IOException("a KV journal record of " + record.length + " bytes whose header says its body has " + length);
        }
        if (!bodyIntact(record, RECORD_HEADER, length)) {
            throw new IOException("a KV journal record whose body's checksum fails");
        }
        ByteBuffer body = r.slice(RECORD_HEADER, length);
        if (!agrees(r, 0, body)) {
            throw new IOException("a KV journal record whose body disagrees with its header");
        }
        apply(body, replay);
    }

    /** Whether the record header at {@code a[at, at + RECORD_HEADER)} holds its own checksum. */
    private static boolean headerIntact(byte[] a, int at) {
        CRC32C crc = new CRC32C();
        crc.update(a, at, 24);
        return (int) crc.getValue() == ByteBuffer.wrap(a).getInt(at + 24);
    }

    /** Whether the body at {@code a[at, at + length)} matches the checksum after it. */
    private static boolean bodyIntact(byte[] a, int at, int length) {
        CRC32C crc = new CRC32C();
        crc.update(a, at, length);
        return (int) crc.getValue() == ByteBuffer.wrap(a).getInt(at + length);
    }

    /** Whether the header at {@code h[at]} repeats the body's layer, KV head, position and rows. */
    private static boolean agrees(ByteBuffer h, int at, ByteBuffer body) {
        return body.getInt(1) == h.getInt(at + 8) && body.getInt(5) == h.getInt(at + 12) && body.getInt(9) == h.getInt(at + 16)
                && body.getInt(13) == h.getInt(at + 20);
    }

    /** The first intact record starting at or after {@code from}, or -1. */
    private static long resync(FileChannel ch, long size, long from) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(1 << 16);
        long base = from;
        while (base + 4 <= size) {
            buf.clear();
            int n = ch.read(buf, base);
            if (n < 4) {
                return -1;
            }
            for (int i = 0; i + 4 <= n; i++) {
                if (buf.getInt(i) == RECORD_MAGIC && probe(ch, size, base + i).good != null) {
                    return base + i;
                }
            }
            base += n - 3;
        }
        return -1;
    }

    /** Applies an intact record; after a skipped one, a record that does not apply in order ends the replay (its reason). */
    private static String apply(Good g, ByteBuffer body, Replay replay, boolean afterGap) {
        if (!afterGap) {
            apply(body, replay);
            return null;
        }
        try {
            apply(body, replay);
            return null;
        } catch (IllegalArgumentException e) {
            return "the record at byte " + g.start() + ", after the damaged bytes, no longer applies: " + e.getMessage();
        }
    }

    private static void apply(ByteBuffer b, Replay replay) {
        if (replay == null) {
            return;
        }
        byte type = b.get();
        int layer = b.getInt();
        int kvHead = b.getInt();
        int position = b.getInt();
        int rows = b.getInt();
        int queries = b.getInt();
        if (rows < 0 || queries < 0 || (type != APPEND && type != PREFILL && type != PREFILL_WITH_HEADS && type != APPEND_LAYER)
                || (type == APPEND && (rows != 1 || queries != 0))
                || (type == APPEND_LAYER && (kvHead != EVERY_KV_HEAD || rows < 1 || queries != 0))
                || (type != APPEND_LAYER && kvHead < 0)) {
            throw new IllegalArgumentException("a journal record of type " + type + " with " + rows + " rows and " + queries + " queries");
        }
        int headBytes = type == PREFILL_WITH_HEADS ? 4 * queries : 0;
        long vectors = 2L * rows + queries;
        long floatBytes = b.remaining() - headBytes;
        if (vectors == 0 ? floatBytes != 0 : floatBytes < 0 || floatBytes % (4 * vectors) != 0) {
            throw new IllegalArgumentException("a journal record whose length does not fit " + rows + " rows and " + queries + " queries");
        }
        int dim = vectors == 0 ? 0 : (int) (floatBytes / 4 / vectors);
        float[][] keys = read(b, rows, dim);
        float[][] values = read(b, rows, dim);
        float[][] qs = read(b, queries, dim);
        if (type == APPEND) {
            replay.append(layer, kvHead, position, keys[0], values[0]);
        } else if (type == APPEND_LAYER) {
            for (int h = 0; h < rows; h++) {
                replay.append(layer, h, position, keys[h], values[h]);
            }
        } else {
            int[] heads = null;
            if (type == PREFILL_WITH_HEADS) {
                heads = new int[queries];
                for (int i = 0; i < queries; i++) {
                    heads[i] = b.getInt();
                }
            }
            replay.prefill(layer, kvHead, position, keys, values, qs, heads);
        }
    }

    private static float[][] read(ByteBuffer b, int rows, int dim) {
        float[][] out = new float[rows][dim];
        for (float[] row : out) {
            for (int c = 0; c < dim; c++) {
                row[c] = b.getFloat();
            }
        }
        return out;
    }

    static ByteBuffer read(FileChannel ch, long at, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        while (b.hasRemaining()) {
            if (ch.read(b, at + b.position()) < 0) {
                throw new EOFException("journal ends at " + (at + b.position()));
            }
        }
        return b.flip();
    }

    private static int readInt(FileChannel ch, long at) throws IOException {
        return read(ch, at, 4).getInt(0);
    }

    private static boolean allZero(FileChannel ch, long from, long to) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(1 << 16);
        for (long at = from; at < to; ) {
            buf.clear().limit((int) Math.min(buf.capacity(), to - at));
            int n = ch.read(buf, at);
            if (n <= 0) {
                return true;
            }
            for (int i = 0; i < n; i++) {
                if (buf.get(i) != 0) {
                    return false;
                }
            }
            at += n;
        }
        return true;
    }
}
