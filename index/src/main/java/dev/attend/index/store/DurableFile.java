package dev.attend.index.store;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;
import java.util.zip.CheckedOutputStream;

/**
 * A whole-file format with a version and a checksum, as Lucene's {@code CodecUtil} frames its files:
 * {@code [magic int 0x41544446 "ATDF"][codec: short length + UTF-8][version int][payload...][footer magic int
 * 0x46445441][payload length long][CRC32C of everything before the footer's checksum, as an int]}.
 * {@link #write} puts a new file in place atomically (temporary file, forced, renamed, folder forced), so a reader
 * sees the old file or the new one; {@link #open} checks the header, the footer and the whole checksum before the
 * caller parses a byte, so a damaged file is a {@link CorruptFileException}, never a wrong value.
 */
public final class DurableFile {

    private static final int HEADER_MAGIC = 0x41544446;
    private static final int FOOTER_MAGIC = 0x46445441;
    private static final int FOOTER_BYTES = 4 + 8 + 4;

    private DurableFile() {
    }

    /** Writes the payload. */
    @FunctionalInterface
    public interface Content {
        void write(DataOutputStream out) throws IOException;
    }

    /** A verified file open for reading its payload; {@link #version()} says which format wrote it. */
    public record Reader(int version, long payloadBytes, DataInputStream in) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            in.close();
        }
    }

    /** Writes {@code file} atomically as {@code codec} at {@code version}; on any failure the old file stays. */
    public static void write(Path file, String codec, int version, Content content) throws IOException {
        // A name of its own: two writers of one file (a snapshot and a save) never share a temporary file.
        Path tmp = Files.createTempFile(file.toAbsolutePath().getParent(), file.getFileName() + ".", ".tmp");
        try {
            try (OutputStream raw = Files.newOutputStream(tmp, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
                CRC32C crc = new CRC32C();
                long[] count = {0};
                OutputStream counted = new FilterOutputStream(new BufferedOutputStream(raw, 1 << 16)) {
                    @Override
                    public void write(int b) throws IOException {
                        out.write(b);
                        count[0]++;
                    }

                    @Override
                    public void write(byte[] b, int off, int len) throws IOException {
                        out.write(b, off, len);
                        count[0] += len;
                    }
                };
                DataOutputStream out = new DataOutputStream(new CheckedOutputStream(counted, crc));
                out.writeInt(HEADER_MAGIC);
                out.writeUTF(codec);
                out.writeInt(version);
                out.flush();
                long headerBytes = count[0];
                content.write(out);
                out.flush();
                long payload = count[0] - headerBytes;
                out.writeInt(FOOTER_MAGIC);
                out.writeLong(payload);
                out.flush();
                int sum = (int) crc.getValue();
                DataOutputStream tail = new DataOutputStream(raw);
                tail.writeInt(sum);
                tail.flush();
            }
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
            forceDirectory(file.toAbsolutePath().getParent());
        } catch (IOException | RuntimeException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /**
     * Opens {@code file}, checking that its checksum and length hold and that it is {@code codec} at a version in
     * {@code [minVersion, maxVersion]}; the reader is positioned at the payload. Checked and read through one open file,
     * so a rename in between cannot hand over another one. Damage is a {@link CorruptFileException}; an intact file of
     * another codec or version an {@link UnsupportedFormatException} (left alone: a newer build may read it).
     */
    public static Reader open(Path file, String codec, int minVersion, int maxVersion) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            long size = ch.size();
            long[] header = verify(ch, file, codec, minVersion, maxVersion, size);
            ch.position(header[1]);
            DataInputStream in = new DataInputStream(new BufferedInputStream(Channels.newInputStream(ch), 1 << 16));
            return new Reader((int) header[0], size - header[1] - FOOTER_BYTES, in);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** True when {@code file} starts with this format's magic (so an older, unframed format can be told apart). */
    public static boolean isFramed(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] b = in.readNBytes(4);
            return b.length == 4 && ByteBuffer.wrap(b).getInt() == HEADER_MAGIC;
        }
    }

    /** Checks the whole file; returns its version and where its payload starts. */
    private static long[] verify(FileChannel ch, Path file, String codec, int minVersion, int maxVersion, long size) throws IOException {
        if (size < 4 + 2 + 4 + FOOTER_BYTES) {
            throw new CorruptFileException(file, "too short to be a " + codec + " file (" + size + " bytes)");
        }
        InputStream raw = Channels.newInputStream(ch.position(0));
        DataInputStream in = new DataInputStream(new BufferedInputStream(raw, 1 << 16));
        CRC32C crc = new CRC32C();
        int version;
        String found;
        long headerBytes;
        try {
            byte[] head = new byte[6];
            in.readFully(head);
            crc.update(head);
            ByteBuffer h = ByteBuffer.wrap(head);
            if (h.getInt() != HEADER_MAGIC) {
                throw new CorruptFileException(file, "no Attend file header (not a " + codec + " file, or its start is damaged)");
            }
            int len = Short.toUnsignedInt(h.getShort());
            if (len > 256 || 6 + len + 4 + FOOTER_BYTES > size) {
                throw new CorruptFileException(file, "damaged header");
            }
            byte[] name = new byte[len];
            in.readFully(name);
            crc.update(name);
            found = new String(name, StandardCharsets.UTF_8);
            byte[] v = new byte[4];
            in.readFully(v);
            crc.update(v);
            version = ByteBuffer.wrap(v).getInt();
            headerBytes = 6 + len + 4;
            long rest = size - headerBytes - 4; // payload and footer up to (not including) the checksum
            byte[] buf = new byte[1 << 16];
            byte[] footer = new byte[12];
            long footerStart = rest - 12;
            long pos = 0;
            while (pos < rest) {
                int n = in.read(buf, 0, (int) Math.min(buf.length, rest - pos));
                if (n < 0) {
                    throw new EOFException();
                }
                crc.update(buf, 0, n);
                for (long at = Math.max(pos, footerStart); at < pos + n; at++) { // keep the footer's 12 bytes
                    footer[(int) (at - footerStart)] = buf[(int) (at - pos)];
                }
                pos += n;
            }
            int stored = in.readInt();
            ByteBuffer f = ByteBuffer.wrap(footer);
            if (f.getInt() != FOOTER_MAGIC) {
                throw new CorruptFileException(file, "no footer (the file was cut short or its end is damaged)");
            }
            long payload = f.getLong();
            if (payload != size - headerBytes - FOOTER_BYTES) {
                throw new CorruptFileException(file, "its footer promises " + payload + " payload bytes, the file holds "
                        + (size - headerBytes - FOOTER_BYTES));
            }
            if (stored != (int) crc.getValue()) {
                throw new CorruptFileException(file, "checksum mismatch (stored " + Integer.toHexString(stored) + ", computed "
                        + Integer.toHexString((int) crc.getValue()) + "): the file is damaged");
            }
        } catch (EOFException e) {
            throw new CorruptFileException(file, "ends early", e);
        }
        // Intact: what remains is whether this build reads it.
        if (!found.equals(codec)) {
            throw new UnsupportedFormatException(file, "holds an intact " + found + " file, not " + codec);
        }
        if (version < minVersion || version > maxVersion) {
            throw new UnsupportedFormatException(file, codec + " format version " + version + " (intact); this build reads "
                    + minVersion + (maxVersion == minVersion ? "" : " to " + maxVersion));
        }
        return new long[] {version, headerBytes};
    }

    /** Forces a directory's entries (a rename into it) to disk; a no-op where the platform cannot open directories. */
    public static void forceDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            if (!System.getProperty("os.name", "").startsWith("Windows")) {
                throw e;
            }
        }
    }
}
