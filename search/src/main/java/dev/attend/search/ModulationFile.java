package dev.attend.search;

import dev.attend.index.store.CorruptFileException;
import dev.attend.index.store.DurableFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The file of a {@link LexSemModulation}: a {@link DurableFile} of codec {@value #CODEC} (a header with its version,
 * a CRC32C footer over the whole file, checked before a byte is parsed: a damaged file is a
 * {@link CorruptFileException}, never other parameters) whose payload is the unframed format the previous builds
 * wrote, and which {@link #load} still reads: little-endian, the ASCII magic {@code "LXSM"}, the format version
 * (int: 1 without learned token weights, 2 with them), vocabulary (int), dim (int), then {@code W}
 * ({@code vocabulary * dim} floats, token-major) and {@code b} ({@code dim} floats); in version 2 then {@code U}
 * ({@code vocabulary * dim} floats, token-major) and {@code c} ({@code vocabulary} floats); nothing after.
 */
public final class ModulationFile {

    /** {@code "LXSM"} read as a little-endian int. */
    static final int MAGIC = 0x4D53584C;
    static final int FORMAT_VERSION = 1;
    /** The format of a modulation with learned token weights (U and c after W and b). */
    static final int FORMAT_VERSION_LEARNED = 2;
    static final int HEADER_BYTES = 16;
    /** The codec name of the framed file. */
    static final String CODEC = "attend-lexsem-modulation";
    /** The framed file's version (its payload carries the unframed format's own version). */
    static final int FRAMED_VERSION = 1;

    private ModulationFile() {
    }

    /**
     * Writes {@code m}'s parameters to {@code file}, checksummed ({@link DurableFile}): to a temporary file in the same
     * directory, forced to the device, then atomically renamed over {@code file}, so a crash leaves either the old
     * file or the new one.
     */
    public static void save(LexSemModulation m, Path file) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        DurableFile.write(file, CODEC, FRAMED_VERSION, out -> writePayload(m, full -> out.write(full.array(), 0, full.position())));
    }

    /** Writes the unframed format of the previous builds (no checksum): what tests of reading old files need. */
    static void saveUnframed(LexSemModulation m, Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            writePayload(m, full -> {
                full.flip();
                while (full.hasRemaining()) {
                    ch.write(full);
                }
                full.position(full.limit()); // what flush clears
            });
        }
    }

    /** The unframed format, through {@code sink}. */
    private static void writePayload(LexSemModulation m, FloatSink sink) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
        buf.putInt(MAGIC).putInt(m.u == null ? FORMAT_VERSION : FORMAT_VERSION_LEARNED).putInt(m.vocabulary()).putInt(m.dim());
        writeFloats(sink, buf, m.w);
        writeFloats(sink, buf, m.b);
        if (m.u != null) {
            writeFloats(sink, buf, m.u);
            writeFloats(sink, buf, m.c);
        }
        sink.flush(buf);
    }

    /** Takes a buffer's bytes {@code [0, position)}. */
    @FunctionalInterface
    private interface FloatSink {
        void take(ByteBuffer buf) throws IOException;

        default void flush(ByteBuffer buf) throws IOException {
            take(buf);
            buf.clear();
        }
    }

    private static void writeFloats(FloatSink sink, ByteBuffer buf, float[] a) throws IOException {
        int i = 0;
        while (i < a.length) {
            int n = Math.min(a.length - i, buf.remaining() / Float.BYTES);
            if (n == 0) {
                sink.flush(buf);
                continue;
            }
            buf.asFloatBuffer().put(a, i, n);
            buf.position(buf.position() + n * Float.BYTES);
            i += n;
        }
    }

    /**
     * Reads a modulation that {@link #save} (or an earlier build, unframed) wrote.
     *
     * @throws IOException naming the file, when it cannot be read, is not a modulation file (magic), has another
     *     format version, has impossible sizes, is truncated or longer than its sizes say, or holds a NaN or
     *     infinite parameter
     */
    public static LexSemModulation load(Path file) throws IOException {
        if (DurableFile.isFramed(file)) {
            long payload;
            try (DurableFile.Reader r = DurableFile.open(file, CODEC, FRAMED_VERSION, FRAMED_VERSION)) {
                payload = r.payloadBytes();
            }
            long footer = 4 + 8 + 4;
            return read(file, Files.size(file) - footer - payload, payload);
        }
        return read(file, 0, Files.size(file));
    }

    /** Parses the unframed format from the {@code size} bytes of {@code file} at {@code offset}. */
    private static LexSemModulation read(Path file, long offset, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ch.position(offset);
            ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, header, file, size);
            header.flip();
            int magic = header.getInt();
            if (magic != MAGIC) {
                throw new CorruptFileException(file, "not a LexSemBridge modulation file (magic 0x" + Integer.toHexString(magic)
                        + ", expected 0x" + Integer.toHexString(MAGIC) + ")");
            }
            int version = header.getInt();
            if (version != FORMAT_VERSION && version != FORMAT_VERSION_LEARNED) {
                throw new CorruptFileException(file, "format version " + version + "; this build reads versions " + FORMAT_VERSION + " and "
                        + FORMAT_VERSION_LEARNED);
            }
            boolean learned = version == FORMAT_VERSION_LEARNED;
            int vocabulary = header.getInt();
            int dim = header.getInt();
            if (vocabulary <= 0 || dim <= 0 || (long) vocabulary * dim > LexSemModulation.MAX_ARRAY) {
                throw new CorruptFileException(file, "impossible sizes vocabulary " + vocabulary + ", dim " + dim);
            }
            long expected = HEADER_BYTES + ((long) vocabulary * dim + dim) * Float.BYTES
                    + (learned ? ((long) vocabulary * dim + vocabulary) * Float.BYTES : 0);
            if (size < expected) {
                throw new CorruptFileException(file, "truncated: " + size + " bytes, a modulation of vocabulary " + vocabulary + " and dim "
                        + dim + " takes " + expected);
            }
            if (size > expected) {
                throw new CorruptFileException(file, (size - expected) + " bytes after the parameters (vocabulary " + vocabulary
                        + ", dim " + dim + ")");
            }
            LexSemModulation m = learned ? LexSemModulation.withLearnedWeights(vocabulary, dim) : new LexSemModulation(vocabulary, dim);
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            readFloats(ch, buf, m.w, file, size);
            readFloats(ch, buf, m.b, file, size);
            if (learned) {
                readFloats(ch, buf, m.u, file, size);
                readFloats(ch, buf, m.c, file, size);
            }
            requireFinite(file, "W", m.w, dim);
            requireFinite(file, "b", m.b, 0);
            if (learned) {
                requireFinite(file, "U", m.u, dim);
                requireFinite(file, "c", m.c, 0);
            }
            return m;
        }
    }

    /**
     * Refuses a NaN or infinite parameter, naming it: {@code name[row][column]} for a matrix of rows of
     * {@code rowLength}, {@code name[i]} for a vector ({@code rowLength} 0).
     */
    private static void requireFinite(Path file, String name, float[] a, int rowLength) throws IOException {
        for (int i = 0; i < a.length; i++) {
            if (!Float.isFinite(a[i])) {
                throw new CorruptFileException(file, name + (rowLength > 0 ? "[" + i / rowLength + "][" + i % rowLength + "]" : "[" + i + "]")
                        + " is " + a[i]);
            }
        }
    }

    private static void readFloats(FileChannel ch, ByteBuffer buf, float[] a, Path file, long size) throws IOException {
        int i = 0;
        while (i < a.length) {
            buf.clear();
            buf.limit((int) Math.min(buf.capacity(), (long) (a.length - i) * Float.BYTES));
            readFully(ch, buf, file, size);
            buf.flip();
            int n = buf.remaining() / Float.BYTES;
            buf.asFloatBuffer().get(a, i, n);
            i += n;
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, Path file, long size) throws IOException {
        while (buf.hasRemaining()) {
            if (ch.read(buf) < 0) {
                throw new CorruptFileException(file, "truncated at byte " + ch.position() + " of " + size);
            }
        }
    }
}
