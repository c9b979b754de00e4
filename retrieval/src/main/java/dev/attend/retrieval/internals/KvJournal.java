package dev.attend.retrieval.internals;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;
import java.util.zip.CRC32C;

/**
 * The write-ahead log of a KV session: every prefill and append is written (and, with {@code force}, forced to disk)
 * before the session applies it, so an acknowledged write survives a crash of the process (and, forced, of the
 * machine).
 *
 * <p>Format 2 (big-endian): a file header {@code [magic int "AKVJ"][format int 2]}, then records
 * {@code [record magic int "KVR2"][body length int][layer int][kvHead int][position int][rows int][CRC32C of the 24
 * bytes before, int][body][CRC32C of the body, int]}, the body being
 * {@code [type byte][layer int][kvHead int][position int][rows int][queries int][floats...][query heads int...]?}
 * (query heads only in a {@code PREFILL_WITH_HEADS} record). The header says which head and positions a record holds
 * even when its body is damaged, and the magic with the header's checksum lets a reader find the next record after a
 * damaged one ({@link #replay}). Format 1 (no file header; records {@code [length int][body][CRC32 int]}) is still
 * read; {@link #rewrite} turns it into format 2.
 */
public final class KvJournal implements AutoCloseable {

    /** What a replayed record asks the session to do. */
    public interface Replay {
        /** {@code queryHeads}: the query head of each query, or null when the queries were not attributed. */
        void prefill(int layer, int kvHead, int from, float[][] keys, float[][] values, float[][] queries, int[] queryHeads);

        void append(int layer, int kvHead, int position, float[] key, float[] value);
    }

    static final byte PREFILL = 1;
    static final byte APPEND = 2;
    /** A prefill whose queries carry their query heads (an int each, after the floats). */
    static final byte PREFILL_WITH_HEADS = 3;
    /**
     * One token appended to every KV head of a layer at once (a decode step): the header's KV head is {@link #EVERY_KV_HEAD}
     * and its rows count the heads, key and value {@code h} being KV head {@code h}'s; one record, so the step applies whole
     * or not at all.
     */
    static final byte APPEND_LAYER = 4;
    static final int EVERY_KV_HEAD = -1;

    static final int FILE_MAGIC = 0x414B564A; // "AKVJ": above 2^30, never a format-1 record length
    public static final int FORMAT = 2;
    static final int FILE_HEADER = 8;
    static final int RECORD_MAGIC = 0x4B565232; // "KVR2"
    static final int RECORD_HEADER = 28;
    static final int MIN_BODY = 21;
    static final int MAX_BODY = 1 << 30;

    /** The codec of a rollback marker ({@link #rollbackMarker}). */
    static final String ROLLBACK_CODEC = "attend.kv-journal-rollback";

    private final Path file;
    private final FileChannel channel;
    private final boolean force;
    /**
     * A failed write whose rollback failed too: where the journal must be cut. The next write cuts it first, and
     * {@link #close} does; until one of them has, a {@link #rollbackMarker} on disk says so to whoever opens the journal next.
     */
    private long rollbackTo = -1;
    /** Whether the {@link #rollbackMarker} of {@code rollbackTo} is on disk. */
    private boolean marked;
    private volatile IOException fault;
    private volatile long faultAfterBytes;
    private volatile int truncateFaults;

    private KvJournal(Path file, FileChannel channel, boolean force) {
        this.file = file;
        this.channel = channel;
        this.force = force;
    }

    // ------------------------------------------------------------------ reading

    /** A record found intact: where it starts, where its body starts, the body's length. */
    public record Good(long start, long bodyStart, int bodyLength) {
        long end(int format) {
            return bodyStart + bodyLength + 4;
        }
    }

    /**
     * Bytes {@code [from, to)} that were skipped; {@code what} names the head and positions they held when the damaged
     * record's header still checked out, else says that it is unknown.
     */
    public record Lost(long from, long to, String what) {
        @Override
        public String toString() {
            return "bytes [" + from + ", " + to + ") (" + what + ")";
        }
    }

    /**
     * What {@link #replay} found. {@code end}: where the last intact record ends (a torn tail after it is cut off
     * there); {@code lost}: damaged records skipped with intact records after them; {@code damagedTail}: a damaged last
     * record that is not merely a write cut short (null when none); {@code tornTail}: bytes of a write cut short at the
     * end (never acknowledged); {@code unappliable}: why a record after a skipped one could not be applied (the session
     * would have a hole: it must not be served), else null.
     */
    public record Scan(int format, long size, long end, List<Good> good, List<Lost> lost, Lost damagedTail, long tornTail,
                       String unappliable) {
        /** Whether anything was lost to damage (not counting a torn tail). */
        public boolean damaged() {
            return !lost.isEmpty() || damagedTail != null;
        }
    }

    /**
     * Replays {@code file} (format 1 or 2) into {@code replay}, skipping damaged records: after a skipped record the
     * later ones are applied while they still apply in order ({@code replay} throws an {@link IllegalArgumentException}
     * for one that does not, and replay stops there with {@link Scan#unappliable()} set). Changes nothing on disk.
     * A record that does not apply when nothing was skipped before it propagates its exception.
     */
    public static Scan replay(Path file, Replay replay) throws IOException {
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
        CRC32C crc = new CRC32C();
        crc.update(h.array(), 0, 24);
        if ((int) crc.getValue() != h.getInt(24)) {
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
        CRC32C bc = new CRC32C();
        bc.update(withCrc.array(), 0, length);
        if ((int) bc.getValue() != withCrc.getInt(length)) {
            return new Probe(null, false, what + ", its body's checksum fails");
        }
        if (body.getInt(1) != h.getInt(8) || body.getInt(5) != h.getInt(12) || body.getInt(9) != h.getInt(16)
                || body.getInt(13) != h.getInt(20)) {
            return new Probe(null, false, what + ", its body disagrees with its header");
        }
        return new Probe(new Good(pos, pos + RECORD_HEADER, length), body, false, what);
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
            return "the record at byte " + g.start + ", after the damaged bytes, no longer applies: " + e.getMessage();
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

    private static ByteBuffer read(FileChannel ch, long at, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        while (b.hasRemaining()) {
            if (ch.read(b, at + b.position()) < 0) {
                throw new java.io.EOFException("journal ends at " + (at + b.position()));
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

    // ------------------------------------------------------------------ rewriting and opening

    /**
     * Replaces {@code file} with a format-2 journal of the intact records {@code scan} found in it, in order (a new
     * file, forced, renamed over the old one, the folder forced): what a damaged or format-1 journal becomes once the
     * caller has kept a copy of it where needed. Returns the new file's size.
     */
    public static long rewrite(Path file, Scan scan) throws IOException {
        long size;
        Path tmp = file.resolveSibling(file.getFileName() + ".rewrite");
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ);
             FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                     StandardOpenOption.WRITE)) {
            writeFully(out, ByteBuffer.allocate(FILE_HEADER).putInt(FILE_MAGIC).putInt(FORMAT).flip());
            for (Good g : scan.good()) {
                if (scan.format() == FORMAT) {
                    long at = g.start();
                    long end = g.end(FORMAT);
                    while (at < end) {
                        at += in.transferTo(at, end - at, out);
                    }
                } else {
                    ByteBuffer body = read(in, g.bodyStart(), g.bodyLength());
                    writeFully(out, frame(body.array(), g.bodyLength()));
                }
            }
            out.force(true);
            size = out.size();
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        try {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        }
        dev.attend.index.store.DurableFile.forceDirectory(file.toAbsolutePath().getParent());
        return size;
    }

    /** A new, empty journal at {@code file}; refuses when a file is there already (never appends to an old journal). */
    public static KvJournal create(Path file, boolean force) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        try {
            writeFully(ch, ByteBuffer.allocate(FILE_HEADER).putInt(FILE_MAGIC).putInt(FORMAT).flip());
            ch.force(true);
            dev.attend.index.store.DurableFile.forceDirectory(file.toAbsolutePath().getParent());
        } catch (IOException | RuntimeException e) {
            ch.close();
            Files.deleteIfExists(file);
            throw e;
        }
        return new KvJournal(file, ch, force);
    }

    /**
     * Opens a format-2 journal that {@link #replay} read for appending at {@code end} (where its last intact record
     * ends: a torn tail after it, never acknowledged, is cut off).
     */
    public static KvJournal append(Path file, long end, boolean force) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE);
        try {
            if (end < FILE_HEADER) {
                ch.truncate(0);
                ch.position(0);
                writeFully(ch, ByteBuffer.allocate(FILE_HEADER).putInt(FILE_MAGIC).putInt(FORMAT).flip());
            } else if (ch.size() > end) {
                ch.truncate(end);
            }
            ch.position(Math.max(end, FILE_HEADER));
            ch.force(true);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        return new KvJournal(file, ch, force);
    }

    // ------------------------------------------------------------------ writing

    /** Logs a prefill; {@code queryHeads} (the query head of each query) may be null. */
    public synchronized void prefill(int layer, int kvHead, int from, float[][] keys, float[][] values, float[][] queries,
                                     int[] queryHeads) throws IOException {
        write(queryHeads == null ? PREFILL : PREFILL_WITH_HEADS, layer, kvHead, from, keys, values, queries, queryHeads);
    }

    /** Logs an append. */
    public synchronized void append(int layer, int kvHead, int position, float[] key, float[] value) throws IOException {
        write(APPEND, layer, kvHead, position, new float[][] {key}, new float[][] {value}, new float[0][], null);
    }

    /** Logs one token appended to every KV head of {@code layer} ({@code keys[h]}, {@code values[h]} for KV head h) as one record. */
    public synchronized void appendLayer(int layer, int position, float[][] keys, float[][] values) throws IOException {
        write(APPEND_LAYER, layer, EVERY_KV_HEAD, position, keys, values, new float[0][], null);
    }

    /** The bytes a record of these rows takes in the journal (to refuse one over the record limit before writing). */
    public static long recordBytes(int rows, int queries, int dim, boolean queryHeads) {
        return RECORD_HEADER + MIN_BODY + 4L * dim * (2L * rows + queries) + (queryHeads ? 4L * queries : 0) + 4;
    }

    private void write(byte type, int layer, int kvHead, int position, float[][] keys, float[][] values, float[][] queries,
                       int[] queryHeads) throws IOException {
        long floats = 0;
        for (float[][] block : new float[][][] {keys, values, queries}) {
            for (float[] row : block) {
                floats += row.length;
            }
        }
        long bodyLength = MIN_BODY + 4 * floats + (queryHeads == null ? 0 : 4L * queryHeads.length);
        if (bodyLength > MAX_BODY) {
            throw new IllegalArgumentException("a write of " + bodyLength + " bytes is too large for one journal record: split it");
        }
        ByteBuffer body = ByteBuffer.allocate((int) bodyLength);
        body.put(type).putInt(layer).putInt(kvHead).putInt(position).putInt(keys.length).putInt(queries.length);
        for (float[][] block : new float[][][] {keys, values, queries}) {
            for (float[] row : block) {
                for (float x : row) {
                    body.putFloat(x);
                }
            }
        }
        if (queryHeads != null) {
            for (int h : queryHeads) {
                body.putInt(h);
            }
        }
        ByteBuffer record = frame(body.array(), (int) bodyLength);
        if (rollbackTo >= 0) { // an earlier failed write left bytes behind: cut them first (or refuse this write)
            cutBack(channel);
            channel.position(rollbackTo);
            rollbackTo = -1;
        }
        long start = channel.position();
        try {
            IOException injected = fault;
            if (injected != null) {
                fault = null;
                ByteBuffer part = record.duplicate();
                part.limit((int) Math.min(part.limit(), faultAfterBytes));
                writeFully(channel, part);
                throw injected;
            }
            writeFully(channel, record);
            if (force) {
                channel.force(false);
            }
        } catch (IOException e) {
            try {
                truncate(channel, start); // not acknowledged: leave no half record behind
                channel.position(start);
            } catch (IOException | RuntimeException rollback) {
                // The bytes stay until the next write or the close cuts them; a crash before that must not replay them.
                rollbackTo = start;
                e.addSuppressed(rollback);
                try {
                    mark(start);
                } catch (IOException | RuntimeException unmarked) {
                    e.addSuppressed(unmarked);
                }
            }
            throw e;
        }
    }

    /**
     * Cuts the journal back to {@code rollbackTo} through {@code ch} (forced, so that the cut holds before the marker
     * goes), then removes the marker; throws when either fails ({@code rollbackTo} stays set).
     */
    private void cutBack(FileChannel ch) throws IOException {
        if (ch.size() > rollbackTo) {
            truncate(ch, rollbackTo);
        }
        ch.force(true);
        if (marked) {
            Files.deleteIfExists(rollbackMarker(file));
            dev.attend.index.store.DurableFile.forceDirectory(file.toAbsolutePath().getParent());
            marked = false;
        }
    }

    private void truncate(FileChannel ch, long size) throws IOException {
        if (truncateFaults > 0) {
            truncateFaults--;
            throw new IOException("injected: the journal could not be truncated to " + size + " bytes");
        }
        ch.truncate(size);
    }

    /** Puts the {@link #rollbackMarker} of a cut at {@code offset} on disk (forced), even on an interrupted thread. */
    private void mark(long offset) throws IOException {
        boolean interrupted = Thread.interrupted(); // a forced write on an interrupted thread would fail at once
        try {
            dev.attend.index.store.DurableFile.write(rollbackMarker(file), ROLLBACK_CODEC, 1, out -> out.writeLong(offset));
            marked = true;
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Beside {@code journal}: the marker a failed write leaves when its rollback failed too ({@code journal.log.rollback},
     * a {@link dev.attend.index.store.DurableFile} holding the offset). The bytes from that offset were never
     * acknowledged: whoever opens the journal must cut it there ({@link #cutAt}) before replaying it.
     */
    public static Path rollbackMarker(Path journal) {
        return journal.resolveSibling(journal.getFileName() + ".rollback");
    }

    /**
     * The offset a {@link #rollbackMarker} names; a damaged marker is a {@link dev.attend.index.store.CorruptFileException},
     * one of another format an {@link dev.attend.index.store.UnsupportedFormatException}.
     */
    public static long rollbackOffset(Path marker) throws IOException {
        try (dev.attend.index.store.DurableFile.Reader r = dev.attend.index.store.DurableFile.open(marker, ROLLBACK_CODEC, 1, 1)) {
            long offset = r.payloadBytes() == 8 ? r.in().readLong() : -1;
            if (offset < FILE_HEADER) {
                throw new dev.attend.index.store.UnsupportedFormatException(marker, "an intact rollback marker this build cannot read");
            }
            return offset;
        }
    }

    /**
     * Cuts {@code journal} at {@code offset} (when longer), forced, then removes its {@link #rollbackMarker} (the folder
     * forced): what an opener does with a marker once it has kept a copy of the bytes cut.
     */
    public static void cutAt(Path journal, long offset) throws IOException {
        if (Files.exists(journal)) {
            try (FileChannel ch = FileChannel.open(journal, StandardOpenOption.WRITE)) {
                if (ch.size() > offset) {
                    ch.truncate(offset);
                }
                ch.force(true);
            }
        }
        Files.deleteIfExists(rollbackMarker(journal));
        dev.attend.index.store.DurableFile.forceDirectory(journal.toAbsolutePath().getParent());
    }

    /** A format-2 record around {@code body}. */
    private static ByteBuffer frame(byte[] body, int length) {
        ByteBuffer b = ByteBuffer.wrap(body, 0, length);
        ByteBuffer record = ByteBuffer.allocate(RECORD_HEADER + length + 4);
        record.putInt(RECORD_MAGIC).putInt(length).putInt(b.getInt(1)).putInt(b.getInt(5)).putInt(b.getInt(9)).putInt(b.getInt(13));
        CRC32C h = new CRC32C();
        h.update(record.array(), 0, 24);
        record.putInt((int) h.getValue());
        record.put(body, 0, length);
        CRC32C c = new CRC32C();
        c.update(body, 0, length);
        record.putInt((int) c.getValue());
        return record.flip();
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /**
     * For tests: the next write puts its first {@code afterBytes} bytes in the file and then fails with {@code e}, as a
     * disk that fills up in the middle of a record.
     */
    public void injectFault(long afterBytes, IOException e) {
        this.faultAfterBytes = afterBytes;
        this.fault = e;
    }

    /** For tests: the next {@code n} truncations of the journal (a failed write's rollback, a close's cut) fail. */
    public void injectTruncateFaults(int n) {
        this.truncateFaults = n;
    }

    /** Bytes in the file now (what a rolled-back write must leave unchanged). */
    public synchronized long size() throws IOException {
        return channel.size();
    }

    public Path file() {
        return file;
    }

    /**
     * Closes the journal; a failed write whose rollback failed is cut back first (through the file when the channel was
     * closed under it, by an interrupt). When that fails too, the {@link #rollbackMarker} stays (it is written now if it
     * was not), so that the next open cuts those bytes; when even that fails, an IOException says so.
     */
    @Override
    public synchronized void close() throws IOException {
        try {
            if (rollbackTo >= 0) {
                try {
                    if (channel.isOpen()) {
                        cutBack(channel);
                    } else {
                        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                            cutBack(ch);
                        }
                    }
                    rollbackTo = -1;
                } catch (IOException | RuntimeException e) {
                    if (!marked) {
                        try {
                            mark(rollbackTo);
                        } catch (IOException | RuntimeException unmarked) {
                            IOException failed = new IOException(file + ": a write that failed (never acknowledged) is still in the"
                                    + " journal from byte " + rollbackTo + ", and neither cutting it nor marking it for the next open"
                                    + " succeeded: that open would replay it", e);
                            failed.addSuppressed(unmarked);
                            throw failed;
                        }
                    }
                }
            }
        } finally {
            channel.close();
        }
    }
}
