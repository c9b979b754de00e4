package dev.attend.recsys.serving;

import dev.attend.recsys.data.BehaviorEvent;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The bytes of the behaviour log ({@link BehaviorSequenceStore}): format 3, an 8-byte header (magic, format version),
 * then one record per batch: {@code [int RECORD_MAGIC_3][int payload length][int CRC32C of the payload][int CRC32C of
 * the 12 bytes before][payload: int events, then per event long user, long item, long category, long time, short
 * action length, action bytes (UTF-8)]}, little-endian. Format 2 (read; written only to a damaged format-2 log that
 * could not be rewritten): {@code [int RECORD_MAGIC][int payload length][int CRC32C of the length's 4 bytes and the
 * payload][payload]}. Format 1 (likewise): {@code [int length][int CRC32C of the payload][payload: one event as
 * above]} per event.
 */
final class BehaviorLogFormat {

    static final int MAGIC = 0x41424531; // "ABE1"
    static final int HEADER_BYTES = 8; // magic, format version
    /** Format 1: one record per event, {@code [int length][int CRC32C of the payload][payload]}. Read, never written. */
    static final int FORMAT_EVENTS = 1;
    /** Format 2: one record per batch, {@code [int record magic][int length][int CRC32C of length and payload][payload]}. Read. */
    static final int FORMAT_BATCHES = 2;
    /**
     * Format 3 (written): one record per batch, {@code [int record magic][int length][int CRC32C of the payload][int
     * CRC32C of the 12 header bytes before it][payload]}: a header that checks tells a write cut short (a strict prefix
     * of a record) from damage.
     */
    static final int FORMAT_VERSION = 3;
    /** {@code "ABRB"} read little-endian: where a format-2 record starts (what a replay resynchronises on). */
    static final int RECORD_MAGIC = 0x42524241;
    static final int RECORD_HEADER = 12;
    /** {@code "ABR3"} read little-endian: where a format-3 record starts. */
    static final int RECORD_MAGIC_3 = 0x33524241;
    static final int RECORD_HEADER_3 = 16;
    static final int EVENT_FIXED = 34; // user, item, category, time, action length
    /** The largest record (one batch): 64 MiB, some 680,000 events. */
    static final int MAX_RECORD_BYTES = 1 << 26;

    private BehaviorLogFormat() {
    }

    /** {@code events} as one record of {@code format} (format 1: one record per event), ready to write. */
    static ByteBuffer encode(List<BehaviorEvent> events, int format) {
        byte[][] actions = new byte[events.size()][];
        long bytes = 4;
        for (int i = 0; i < events.size(); i++) {
            actions[i] = events.get(i).action().getBytes(StandardCharsets.UTF_8);
            bytes += EVENT_FIXED + actions[i].length;
        }
        if (bytes > MAX_RECORD_BYTES) {
            throw new IllegalArgumentException("a batch of " + events.size() + " events takes " + bytes + " bytes; at most "
                    + MAX_RECORD_BYTES + " per batch");
        }
        CRC32C crc = new CRC32C();
        if (format == FORMAT_EVENTS) {
            ByteBuffer buf = ByteBuffer.allocate((int) (bytes - 4 + 8L * events.size())).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < events.size(); i++) {
                BehaviorEvent e = events.get(i);
                int start = buf.position();
                int payload = EVENT_FIXED + actions[i].length;
                buf.putInt(payload).putInt(0);
                buf.putLong(e.user()).putLong(e.item()).putLong(e.category()).putLong(e.time());
                buf.putShort((short) actions[i].length).put(actions[i]);
                crc.reset();
                crc.update(buf.array(), start + 8, payload);
                buf.putInt(start + 4, (int) crc.getValue());
            }
            return buf.flip();
        }
        int payload = (int) bytes;
        int header = format == FORMAT_BATCHES ? RECORD_HEADER : RECORD_HEADER_3;
        ByteBuffer buf = ByteBuffer.allocate(header + payload).order(ByteOrder.LITTLE_ENDIAN);
        buf.putInt(format == FORMAT_BATCHES ? RECORD_MAGIC : RECORD_MAGIC_3).putInt(payload).putInt(0);
        if (format != FORMAT_BATCHES) {
            buf.putInt(0);
        }
        buf.putInt(events.size());
        for (int i = 0; i < events.size(); i++) {
            BehaviorEvent e = events.get(i);
            buf.putLong(e.user()).putLong(e.item()).putLong(e.category()).putLong(e.time());
            buf.putShort((short) actions[i].length).put(actions[i]);
        }
        if (format == FORMAT_BATCHES) {
            crc.update(buf.array(), 4, 4); // the length
            crc.update(buf.array(), RECORD_HEADER, payload);
            buf.putInt(8, (int) crc.getValue());
        } else {
            crc.update(buf.array(), RECORD_HEADER_3, payload);
            buf.putInt(8, (int) crc.getValue());
            crc.reset();
            crc.update(buf.array(), 0, 12);
            buf.putInt(12, (int) crc.getValue());
        }
        buf.flip();
        return buf;
    }

    /** Reads a file through a window that moves forward (and back, for a resynchronising scan). */
    static final class Window {
        private final FileChannel ch;
        private final long size;
        private ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
        private long start = 0;
        private int filled = 0;

        Window(FileChannel ch, long size) {
            this.ch = ch;
            this.size = size;
        }

        /** {@code n} bytes at {@code pos} (positioned at them), or null past the end of the file. */
        ByteBuffer at(long pos, int n) throws IOException {
            if (pos < 0 || n < 0 || pos + n > size) {
                return null;
            }
            if (pos < start || pos + n > start + filled) {
                if (n > buf.capacity()) {
                    buf = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
                }
                buf.clear();
                int want = (int) Math.min(buf.capacity(), size - pos);
                buf.limit(want);
                while (buf.hasRemaining()) {
                    if (ch.read(buf, pos + buf.position()) < 0) {
                        throw new EOFException("the log shrank while it was read");
                    }
                }
                start = pos;
                filled = want;
            }
            ByteBuffer view = buf.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            view.limit((int) (pos - start) + n).position((int) (pos - start));
            return view.slice().order(ByteOrder.LITTLE_ENDIAN);
        }
    }

    /** A record read: its events and its length on disk; null where the bytes at a position are not a valid record. */
    record Record(List<BehaviorEvent> events, int length) {
    }

    static Record readRecord(Window w, long pos, int format, CRC32C crc) throws IOException {
        if (format == FORMAT_EVENTS) {
            ByteBuffer h = w.at(pos, 8);
            if (h == null) {
                return null;
            }
            int length = h.getInt();
            int sum = h.getInt();
            if (length < EVENT_FIXED + 1 || length > EVENT_FIXED + BoundedSequence.MAX_ACTION_BYTES) {
                return null;
            }
            ByteBuffer p = w.at(pos + 8, length);
            if (p == null) {
                return null;
            }
            crc.reset();
            crc.update(p.duplicate());
            if ((int) crc.getValue() != sum) {
                return null;
            }
            List<BehaviorEvent> one = events(p, 1, length);
            return one == null ? null : new Record(one, 8 + length);
        }
        if (format == FORMAT_VERSION) {
            ByteBuffer h = header3(w, pos, crc);
            if (h == null) {
                return null;
            }
            int length = h.getInt(4);
            ByteBuffer p = w.at(pos + RECORD_HEADER_3, length);
            if (p == null) {
                return null;
            }
            crc.reset();
            crc.update(p.duplicate());
            if ((int) crc.getValue() != h.getInt(8)) {
                return null;
            }
            int count = p.getInt();
            List<BehaviorEvent> events = events(p, count, length - 4);
            return events == null ? null : new Record(events, RECORD_HEADER_3 + length);
        }
        ByteBuffer h = w.at(pos, RECORD_HEADER);
        if (h == null || h.getInt() != RECORD_MAGIC) {
            return null;
        }
        int length = h.getInt();
        int sum = h.getInt();
        if (length < 4 || length > MAX_RECORD_BYTES) {
            return null;
        }
        ByteBuffer p = w.at(pos + RECORD_HEADER, length);
        if (p == null) {
            return null;
        }
        crc.reset();
        crc.update(h.duplicate().position(4).limit(8));
        crc.update(p.duplicate());
        if ((int) crc.getValue() != sum) {
            return null;
        }
        int count = p.getInt();
        List<BehaviorEvent> events = events(p, count, length - 4);
        return events == null ? null : new Record(events, RECORD_HEADER + length);
    }

    /** The 16 header bytes of a format-3 record at {@code pos} when they check (magic, CRC, a length in range); else null. */
    static ByteBuffer header3(Window w, long pos, CRC32C crc) throws IOException {
        ByteBuffer h = w.at(pos, RECORD_HEADER_3);
        if (h == null || h.getInt(0) != RECORD_MAGIC_3) {
            return null;
        }
        crc.reset();
        crc.update(h.duplicate().limit(12));
        if ((int) crc.getValue() != h.getInt(12)) {
            return null;
        }
        int length = h.getInt(4);
        return length < 4 || length > MAX_RECORD_BYTES ? null : h;
    }

    /** {@code count} events filling exactly {@code bytes} of {@code p}, each as a store accepts it; else null. */
    static List<BehaviorEvent> events(ByteBuffer p, int count, int bytes) {
        if (count < 1 || (long) count * (EVENT_FIXED + 1) > bytes) {
            return null;
        }
        List<BehaviorEvent> out = new ArrayList<>(count);
        int end = p.position() + bytes;
        byte[] action = new byte[BoundedSequence.MAX_ACTION_BYTES];
        for (int i = 0; i < count; i++) {
            if (end - p.position() < EVENT_FIXED) {
                return null;
            }
            long user = p.getLong();
            long item = p.getLong();
            long category = p.getLong();
            long time = p.getLong();
            int n = p.getShort();
            if (n < 1 || n > BoundedSequence.MAX_ACTION_BYTES || end - p.position() < n) {
                return null;
            }
            p.get(action, 0, n);
            BehaviorEvent e = new BehaviorEvent(user, item, category, new String(action, 0, n, StandardCharsets.UTF_8), time);
            try {
                BoundedSequence.check(e, i);
            } catch (IllegalArgumentException bad) {
                return null;
            }
            out.add(e);
        }
        return p.position() == end ? out : null;
    }
}
