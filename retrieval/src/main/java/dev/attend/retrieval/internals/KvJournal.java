package dev.attend.retrieval.internals;

import dev.attend.index.store.DurableFile;
import dev.attend.index.store.UnsupportedFormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
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
    public static final int FILE_HEADER = 8;
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
        return KvJournalReader.replay(file, replay);
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
                    ByteBuffer body = KvJournalReader.read(in, g.bodyStart(), g.bodyLength());
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
        DurableFile.forceDirectory(file.toAbsolutePath().getParent());
        return size;
    }

    /** A new, empty journal at {@code file}; refuses when a file is there already (never appends to an old journal). */
    public static KvJournal create(Path file, boolean force) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        try {
            writeFully(ch, ByteBuffer.allocate(FILE_HEADER).putInt(FILE_MAGIC).putInt(FORMAT).flip());
            ch.force(true);
            DurableFile.forceDirectory(file.toAbsolutePath().getParent());
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

    /** The bytes a record of these rows takes in the journal (to refuse one over the record limit before writing). */
    public static long recordBytes(int rows, int queries, int dim, boolean queryHeads) {
        return RECORD_HEADER + MIN_BODY + 4L * dim * (2L * rows + queries) + (queryHeads ? 4L * queries : 0) + 4;
    }

    // ------------------------------------------------------------------ records beside the file

    /**
     * A prefill as one record of the journal's format (magic, lengths, checksums), for a log other than the session's
     * file (a Kafka topic); {@link #replayRecord} reads it back.
     */
    public static byte[] prefillRecord(int layer, int kvHead, int from, float[][] keys, float[][] values, float[][] queries,
                                       int[] queryHeads) {
        return record(queryHeads == null ? PREFILL : PREFILL_WITH_HEADS, layer, kvHead, from, keys, values, queries, queryHeads);
    }

    /** An append as one record ({@link #prefillRecord}). */
    public static byte[] appendRecord(int layer, int kvHead, int position, float[] key, float[] value) {
        return record(APPEND, layer, kvHead, position, new float[][] {key}, new float[][] {value}, new float[0][], null);
    }

    /** One token of every KV head of {@code layer} as one record ({@link #prefillRecord}). */
    public static byte[] appendLayerRecord(int layer, int position, float[][] keys, float[][] values) {
        return record(APPEND_LAYER, layer, EVERY_KV_HEAD, position, keys, values, new float[0][], null);
    }

    /**
     * Replays one record made by {@link #prefillRecord}, {@link #appendRecord} or {@link #appendLayerRecord}: damage
     * (a checksum, a length, a header that disagrees with its body) is an {@link IOException} and nothing is replayed;
     * a record that does not apply to the session an {@link IllegalArgumentException} from {@code replay}.
     */
    public static void replayRecord(byte[] record, Replay replay) throws IOException {
        KvJournalReader.replayRecord(record, replay);
    }

    /**
     * Logs a record made by {@link #prefillRecord}, {@link #appendRecord} or {@link #appendLayerRecord} as it is;
     * one that fails its checks ({@link #replayRecord}'s) is an {@link IOException} and nothing is written.
     */
    public synchronized void writeRecord(byte[] record) throws IOException {
        KvJournalReader.replayRecord(record, null);
        writeFramed(ByteBuffer.wrap(record));
    }

    private static byte[] record(byte type, int layer, int kvHead, int position, float[][] keys, float[][] values, float[][] queries,
                                 int[] queryHeads) {
        byte[] body = body(type, layer, kvHead, position, keys, values, queries, queryHeads);
        return frame(body, body.length).array();
    }

    private static byte[] body(byte type, int layer, int kvHead, int position, float[][] keys, float[][] values, float[][] queries,
                               int[] queryHeads) {
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
        return body.array();
    }

    private void writeFramed(ByteBuffer record) throws IOException {
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
            DurableFile.forceDirectory(file.toAbsolutePath().getParent());
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
            DurableFile.write(rollbackMarker(file), ROLLBACK_CODEC, 1, out -> out.writeLong(offset));
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
        try (DurableFile.Reader r = DurableFile.open(marker, ROLLBACK_CODEC, 1, 1)) {
            long offset = r.payloadBytes() == 8 ? r.in().readLong() : -1;
            if (offset < FILE_HEADER) {
                throw new UnsupportedFormatException(marker, "an intact rollback marker this build cannot read");
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
        DurableFile.forceDirectory(journal.toAbsolutePath().getParent());
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

    /** Forces what was written to disk (a journal opened without {@code force} forces nothing on its own). */
    public synchronized void force() throws IOException {
        channel.force(false);
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
