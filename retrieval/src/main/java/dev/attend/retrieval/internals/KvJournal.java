package dev.attend.retrieval.internals;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
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
 * {@code [length int][type byte][layer int][kvHead int][position int][rows int][queries int][floats...][crc32 int]};
 * a torn record at the end (the write that was never acknowledged) is cut off on replay.
 */
public final class KvJournal implements AutoCloseable {

    /** What a replayed record asks the session to do. */
    public interface Replay {
        void prefill(int layer, int kvHead, int from, float[][] keys, float[][] values, float[][] queries);

        void append(int layer, int kvHead, int position, float[] key, float[] value);
    }

    static final byte PREFILL = 1;
    static final byte APPEND = 2;

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
        int dim = rows + queries == 0 ? 0 : b.remaining() / 4 / (2 * rows + queries);
        float[][] keys = read(b, rows, dim);
        float[][] values = read(b, rows, dim);
        float[][] qs = read(b, queries, dim);
        if (type == APPEND) {
            replay.append(layer, kvHead, position, keys[0], values[0]);
        } else {
            replay.prefill(layer, kvHead, position, keys, values, qs);
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

    /** Logs a prefill. */
    public synchronized void prefill(int layer, int kvHead, int from, float[][] keys, float[][] values, float[][] queries)
            throws IOException {
        write(PREFILL, layer, kvHead, from, keys, values, queries);
    }

    /** Logs an append. */
    public synchronized void append(int layer, int kvHead, int position, float[] key, float[] value) throws IOException {
        write(APPEND, layer, kvHead, position, new float[][] {key}, new float[][] {value}, new float[0][]);
    }

    private void write(byte type, int layer, int kvHead, int position, float[][] keys, float[][] values, float[][] queries)
            throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeByte(type);
        out.writeInt(layer);
        out.writeInt(kvHead);
        out.writeInt(position);
        out.writeInt(keys.length);
        out.writeInt(queries.length);
        for (float[][] block : new float[][][] {keys, values, queries}) {
            for (float[] row : block) {
                for (float x : row) {
                    out.writeFloat(x);
                }
            }
        }
        byte[] body = bytes.toByteArray();
        CRC32 crc = new CRC32();
        crc.update(body);
        ByteBuffer record = ByteBuffer.allocate(4 + body.length + 4);
        record.putInt(body.length).put(body).putInt((int) crc.getValue()).flip();
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
