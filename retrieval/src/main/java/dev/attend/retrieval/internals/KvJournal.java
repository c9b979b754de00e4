package dev.attend.retrieval.internals;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32;

/**
 * The write-ahead log of a KV session: every prefill and append is written (and, with {@code force},
 * forced to disk) before the session applies it, so an acknowledged write survives a crash of the process
 * (and, forced, of the machine). A record is
 * {@code [length int][type byte][layer int][kvHead int][position int][rows int][queries int][floats...][query heads int...]?[crc32 int]}
 * (big-endian; query heads only in a {@code PREFILL_WITH_HEADS} record);
 * a torn record at the end (the write that was never acknowledged) is cut off on replay.
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

    private final Path file;
    private final FileChannel channel;
    private final boolean force;

    private KvJournal(Path file, FileChannel channel, boolean force) {
        this.file = file;
        this.channel = channel;
        this.force = force;
    }

    /**
     * Opens (or creates) the journal at {@code file}, replaying what it holds into {@code replay} first;
     * {@code force}: every write is forced to disk before it returns.
     */
    public static KvJournal open(Path file, Replay replay, boolean force) throws IOException {
        // replay may be null for a new, empty journal.
        long good = 0;
        if (Files.exists(file)) {
            try (InputStream raw = Files.newInputStream(file); DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(raw))) {
                while (true) {
                    int length;
                    try {
                        length = in.readInt();
                    } catch (EOFException end) {
                        break;
                    }
                    if (length < 21 || length > (1 << 30)) {
                        break; // torn or garbage tail
                    }
                    byte[] body = new byte[length];
                    try {
                        in.readFully(body);
                    } catch (EOFException torn) {
                        break;
                    }
                    int crc;
                    try {
                        crc = in.readInt();
                    } catch (EOFException torn) {
                        break;
                    }
                    CRC32 check = new CRC32();
                    check.update(body);
                    if ((int) check.getValue() != crc) {
                        break;
                    }
                    if (replay != null) {
                        apply(ByteBuffer.wrap(body), replay);
                    }
                    good += 4 + length + 4;
                }
            }
        }
        FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        channel.truncate(good); // drop a torn tail: it was never acknowledged
        channel.position(good);
        channel.force(true);
        return new KvJournal(file, channel, force);
    }

    private static void apply(ByteBuffer b, Replay replay) {
        byte type = b.get();
        int layer = b.getInt();
        int kvHead = b.getInt();
        int position = b.getInt();
        int rows = b.getInt();
        int queries = b.getInt();
        int headBytes = type == PREFILL_WITH_HEADS ? 4 * queries : 0;
        int dim = rows + queries == 0 ? 0 : (b.remaining() - headBytes) / 4 / (2 * rows + queries);
        float[][] keys = read(b, rows, dim);
        float[][] values = read(b, rows, dim);
        float[][] qs = read(b, queries, dim);
        if (type == APPEND) {
            replay.append(layer, kvHead, position, keys[0], values[0]);
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

    /** Logs a prefill; {@code queryHeads} (the query head of each query) may be null. */
    public synchronized void prefill(int layer, int kvHead, int from, float[][] keys, float[][] values, float[][] queries,
                                     int[] queryHeads) throws IOException {
        write(queryHeads == null ? PREFILL : PREFILL_WITH_HEADS, layer, kvHead, from, keys, values, queries, queryHeads);
    }

    /** Logs an append. */
    public synchronized void append(int layer, int kvHead, int position, float[] key, float[] value) throws IOException {
        write(APPEND, layer, kvHead, position, new float[][] {key}, new float[][] {value}, new float[0][], null);
    }

    private void write(byte type, int layer, int kvHead, int position, float[][] keys, float[][] values, float[][] queries,
                       int[] queryHeads) throws IOException {
        long floats = 0;
        for (float[][] block : new float[][][] {keys, values, queries}) {
            for (float[] row : block) {
                floats += row.length;
            }
        }
        long bodyLength = 21 + 4 * floats + (queryHeads == null ? 0 : 4L * queryHeads.length);
        if (bodyLength > (1 << 30)) {
            throw new IllegalArgumentException("a write of " + bodyLength + " bytes is too large for one journal record: split it");
        }
        ByteBuffer record = ByteBuffer.allocate(4 + (int) bodyLength + 4);
        record.putInt((int) bodyLength);
        record.put(type).putInt(layer).putInt(kvHead).putInt(position).putInt(keys.length).putInt(queries.length);
        for (float[][] block : new float[][][] {keys, values, queries}) {
            for (float[] row : block) {
                for (float x : row) {
                    record.putFloat(x);
                }
            }
        }
        if (queryHeads != null) {
            for (int h : queryHeads) {
                record.putInt(h);
            }
        }
        CRC32 crc = new CRC32();
        crc.update(record.array(), 4, (int) bodyLength);
        record.putInt((int) crc.getValue()).flip();
        long start = channel.position();
        try {
            while (record.hasRemaining()) {
                channel.write(record);
            }
            if (force) {
                channel.force(false);
            }
        } catch (IOException e) {
            channel.truncate(start); // not acknowledged: leave no half record behind
            channel.position(start);
            throw e;
        }
    }

    public Path file() {
        return file;
    }

    @Override
    public synchronized void close() throws IOException {
        channel.close();
    }
}
