package dev.attend.gpu;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads 2-D NumPy {@code .npy} files (format 1.0 to 3.0) of little-endian float16 ({@code <f2}) or
 * float32 ({@code <f4}) in C order into a {@link VectorStore}. Anything else is refused with a message
 * that names the file and what it holds.
 */
public final class NpyReader {

    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    private NpyReader() {
    }

    /** The header of a {@code .npy} file. */
    public record Header(String dtype, int rows, int cols, long dataOffset) {
    }

    public static Header header(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer pre = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(pre, 0);
            pre.flip();
            if (pre.remaining() < 10) {
                throw new IOException(file + " is too short to be a .npy file");
            }
            for (byte b : MAGIC) {
                if (pre.get() != b) {
                    throw new IOException(file + " is not a .npy file (bad magic)");
                }
            }
            int major = pre.get() & 0xff;
            pre.get();
            long headerLen;
            int preamble;
            if (major == 1) {
                headerLen = pre.getShort() & 0xffff;
                preamble = 10;
            } else if (major == 2 || major == 3) {
                if (pre.remaining() < 4) {
                    throw new IOException(file + " has a truncated .npy header");
                }
                headerLen = pre.getInt() & 0xffffffffL;
                preamble = 12;
            } else {
                throw new IOException(file + " has unsupported .npy version " + major);
            }
            if (headerLen > 1 << 20) {
                throw new IOException(file + " declares a .npy header of " + headerLen + " bytes");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            ch.read(hb, preamble);
            String header = new String(hb.array(), 0, hb.position(), StandardCharsets.ISO_8859_1);
            String dtype = find(DESCR, header, file, "descr");
            if ("True".equals(find(FORTRAN, header, file, "fortran_order"))) {
                throw new IOException(file + " is in Fortran order; only C order is supported");
            }
            String[] dims = find(SHAPE, header, file, "shape").replace(" ", "").split(",");
            if (dims.length != 2 || dims[1].isEmpty()) {
                throw new IOException(file + " has shape (" + String.join(",", dims) + "); a 2-D array is required");
            }
            long rows = Long.parseLong(dims[0]);
            long cols = Long.parseLong(dims[1]);
            if (rows > Integer.MAX_VALUE || cols > Integer.MAX_VALUE || cols <= 0) {
                throw new IOException(file + " has unsupported shape (" + rows + ", " + cols + ")");
            }
            return new Header(dtype, (int) rows, (int) cols, preamble + headerLen);
        }
    }

    private static String find(Pattern p, String header, Path file, String key) throws IOException {
        Matcher m = p.matcher(header);
        if (!m.find()) {
            throw new IOException(file + " has no '" + key + "' in its .npy header: " + header.strip());
        }
        return m.group(1);
    }

    /** Reads every row of {@code file} into a new store of the given precision. */
    public static VectorStore read(Path file, Precision precision) throws IOException {
        return read(file, precision, Integer.MAX_VALUE);
    }

    /** Reads the first {@code maxRows} rows of {@code file} into a new store of the given precision. */
    public static VectorStore read(Path file, Precision precision, int maxRows) throws IOException {
        Header h = header(file);
        int width = switch (h.dtype()) {
            case "<f2" -> 2;
            case "<f4" -> 4;
            default -> throw new IOException(file + " holds dtype " + h.dtype() + "; only little-endian float16 (<f2) and float32 (<f4) are supported");
        };
        int rows = Math.min(maxRows, h.rows());
        long expected = h.dataOffset() + (long) h.rows() * h.cols() * width;
        long actual = Files.size(file);
        if (actual < expected) {
            throw new IOException(file + " is truncated: " + actual + " bytes, header promises " + expected);
        }
        VectorStore store = new VectorStore(h.cols(), precision);
        int batchRows = Math.max(1, (1 << 20) / h.cols());
        float[] buf = new float[batchRows * h.cols()];
        byte[] raw = new byte[batchRows * h.cols() * width];
        try (InputStream in = Files.newInputStream(file)) {
            in.skipNBytes(h.dataOffset());
            for (int done = 0; done < rows; ) {
                int n = Math.min(batchRows, rows - done);
                int bytes = n * h.cols() * width;
                in.readNBytes(raw, 0, bytes);
                ByteBuffer bb = ByteBuffer.wrap(raw, 0, bytes).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < n * h.cols(); i++) {
                    buf[i] = width == 2 ? Float.float16ToFloat(bb.getShort()) : bb.getFloat();
                }
                try {
                    store.appendRows(buf, 0, n);
                } catch (IllegalArgumentException e) {
                    throw new IOException(file + " rows " + done + ".." + (done + n) + ": " + e.getMessage(), e);
                }
                done += n;
            }
        }
        return store;
    }
}
