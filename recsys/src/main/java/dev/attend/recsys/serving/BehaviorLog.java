package dev.attend.recsys.serving;

import static dev.attend.recsys.serving.BehaviorLogFormat.FORMAT_VERSION;
import static dev.attend.recsys.serving.BehaviorLogFormat.HEADER_BYTES;
import static dev.attend.recsys.serving.BehaviorLogFormat.MAGIC;
import static dev.attend.recsys.serving.BehaviorLogFormat.encode;
import static dev.attend.recsys.serving.BehaviorSequenceStore.CUT_FILE;

import dev.attend.index.store.DurableFile;
import dev.attend.index.store.StorageErrors;
import dev.attend.recsys.data.BehaviorEvent;
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

/**
 * The behaviour log of an open {@link BehaviorSequenceStore}, written to: one record per batch, appended whole or
 * not at all. A write that fails is cut back off; where even the cut fails, the failed record is zeroed in place and
 * {@value BehaviorSequenceStore#CUT_FILE} records where to cut (the next append, {@link #close} or open does).
 */
final class BehaviorLog {

    /** The codec of the {@value BehaviorSequenceStore#CUT_FILE} marker. */
    static final String CUT_CODEC = "attend-behaviors-cut";
    /** Events per record when the log is rewritten. */
    private static final int REWRITE_BATCH = 4096;
    private static final System.Logger LOG = System.getLogger(BehaviorSequenceStore.class.getName());

    private final Path dir;
    private final FileChannel log;
    private final boolean fsync;
    /** The format of the log's records (an older one only where a damaged log could not be rewritten). */
    private final int logFormat;
    private final Object logLock = new Object();
    /** The log's length up to its last whole record (what a failed write is cut back to); under {@link #logLock}. */
    private long logEnd;
    /** A failed write could not be cut back off the log (see {@link BehaviorSequenceStore#CUT_FILE}); under {@link #logLock}. */
    private boolean cutPending;

    /** How a batch's bytes reach the log (tests put a failing one in place); returns the bytes written. */
    @FunctionalInterface
    interface LogWrite {
        int write(FileChannel log, ByteBuffer buf, long at) throws IOException;
    }

    private volatile LogWrite logWrite = FileChannel::write;

    /** How the log is cut back to a length (tests put a failing one in place). */
    @FunctionalInterface
    interface LogCut {
        void cut(FileChannel log, long to) throws IOException;
    }

    private volatile LogCut logCut = (ch, to) -> {
        ch.truncate(to);
        ch.force(false);
    };

    /** For tests: replaces how batches are written (to inject a failure part way through one). */
    void logWrite(LogWrite w) {
        this.logWrite = w;
    }

    /** For tests: replaces how a failed write is cut back off the log. */
    void logCut(LogCut c) {
        this.logCut = c;
    }

    /** The log {@code file} of the store in {@code dir}, open for appends in {@code format} after its last byte. */
    BehaviorLog(Path dir, Path file, int format, boolean fsync) throws IOException {
        this.dir = dir;
        this.log = FileChannel.open(file, StandardOpenOption.WRITE);
        this.fsync = fsync;
        this.logFormat = format;
        this.logEnd = log.size();
    }

    /** Writes {@code events} (checked, not empty) as one record; when it returns they are in the log. */
    void append(List<BehaviorEvent> events) throws IOException {
        ByteBuffer buf = encode(events, logFormat);
        synchronized (logLock) {
            if (!log.isOpen()) {
                throw new IOException("the behaviour store is closed");
            }
            if (cutPending || log.size() != logEnd) {
                try { // what an earlier failed write left, where cutting it back failed then
                    logCut.cut(log, logEnd);
                    clearCutMarker();
                } catch (IOException e) {
                    throw failed(e);
                }
            }
            try {
                long at = logEnd;
                LogWrite write = logWrite;
                while (buf.hasRemaining()) {
                    at += write.write(log, buf, at);
                }
                if (fsync) {
                    log.force(false);
                }
                logEnd = at;
            } catch (IOException e) {
                throw failed(e);
            }
        }
    }

    /** Cuts the log back to its last whole record after a failed write; the exception to throw (nothing applied). */
    private IOException failed(IOException e) {
        try {
            logCut.cut(log, logEnd);
            clearCutMarker();
        } catch (IOException t) {
            e.addSuppressed(t);
            protectTail(e); // the next append or close() cuts it; until then a crash must not keep it
        }
        if (StorageErrors.isDiskFull(e)) {
            return new StorageErrors.StorageFullException("the disk of the behaviour store is full: the batch was not stored or applied; "
                    + "free space and send it again", e);
        }
        return new IOException("the behaviour log could not be written (" + e.getMessage() + "): the batch was not stored or applied", e);
    }

    /** See {@link BehaviorSequenceStore#close}. */
    void close() throws IOException {
        synchronized (logLock) {
            if (!log.isOpen()) {
                return;
            }
            IOException problem = null;
            try {
                if (cutPending || log.size() != logEnd) {
                    try {
                        logCut.cut(log, logEnd);
                        clearCutMarker();
                    } catch (IOException e) {
                        problem = new IOException("the behaviour log could not be cut back to " + logEnd + " bytes after a failed write ("
                                + e.getMessage() + ")" + (Files.isRegularFile(dir.resolve(CUT_FILE)) ? "; " + CUT_FILE + " makes the next open cut it"
                                : protectTail(e) ? "; the next open cuts it" : "; THE FAILED BATCH MAY BE REPLAYED AT THE NEXT OPEN"), e);
                    }
                }
            } finally {
                log.close();
            }
            if (problem != null) {
                throw problem;
            }
        }
    }

    /**
     * After a failed write that could not be cut back: zeroes its bytes in place (no new space needed; a replay cuts
     * an all-zero tail) and leaves the marker {@link BehaviorSequenceStore#CUT_FILE} saying where the next open cuts the log. True when
     * either worked. Under {@link #logLock}.
     */
    private boolean protectTail(IOException failure) {
        cutPending = true;
        boolean zeroed = false;
        try {
            long size = log.size();
            ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(1 << 16, Math.max(0, size - logEnd)));
            for (long at = logEnd; at < size; ) {
                zeros.clear().limit((int) Math.min(zeros.capacity(), size - at));
                at += logWrite.write(log, zeros, at);
            }
            log.force(false);
            zeroed = true;
        } catch (IOException | RuntimeException t) {
            failure.addSuppressed(t);
        }
        boolean marked = false;
        try {
            Path marker = dir.resolve(CUT_FILE);
            if (!Files.exists(marker)) {
                DurableFile.write(marker, CUT_CODEC, 1, out -> out.writeLong(logEnd));
            }
            marked = true;
        } catch (IOException | RuntimeException t) {
            failure.addSuppressed(t);
        }
        if (!zeroed && !marked) {
            LOG.log(System.Logger.Level.ERROR, "a failed batch could not be cut off the behaviour log, zeroed or marked for cutting: "
                    + "a crash before the next write or close would replay it", failure);
        }
        return zeroed || marked;
    }

    /** The failed write is cut off: the marker, if any, goes (before anything is appended after it). */
    private void clearCutMarker() throws IOException {
        if (cutPending) {
            Path marker = dir.resolve(CUT_FILE);
            if (Files.deleteIfExists(marker)) {
                DurableFile.forceDirectory(dir);
            }
            cutPending = false;
        }
    }

    /** Writes {@code sequences} (the live behaviours) as a fresh log, atomically replacing {@code file}. */
    static void rewrite(Path file, Iterable<BehaviorSequence> sequences) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.WRITE)) {
                ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN).putInt(MAGIC).putInt(FORMAT_VERSION);
                header.flip();
                while (header.hasRemaining()) {
                    ch.write(header);
                }
                for (BehaviorSequence s : sequences) {
                    for (int from = 0; from < s.length(); from += REWRITE_BATCH) {
                        List<BehaviorEvent> events = new ArrayList<>(Math.min(REWRITE_BATCH, s.length() - from));
                        for (int j = from; j < Math.min(s.length(), from + REWRITE_BATCH); j++) {
                            events.add(new BehaviorEvent(s.user(), s.items()[j], s.categories()[j], s.actions()[j], s.times()[j]));
                        }
                        ByteBuffer buf = encode(events, FORMAT_VERSION);
                        while (buf.hasRemaining()) {
                            ch.write(buf);
                        }
                    }
                }
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        try (FileChannel d = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
            d.force(true); // the rename itself
        } catch (IOException ignored) {
            // some file systems cannot open a directory; the rename is then as durable as they make it
        }
    }
}
