package dev.attend.index.lucene;

import dev.attend.index.store.DamageLog;
import dev.attend.index.store.UnsupportedFormatException;
import java.io.EOFException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.lucene.codecs.CodecUtil;
import org.apache.lucene.index.CorruptIndexException;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexFileNames;
import org.apache.lucene.index.IndexFormatTooNewException;
import org.apache.lucene.index.IndexFormatTooOldException;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.SegmentInfos;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.IOContext;
import org.apache.lucene.store.IndexInput;

/**
 * Whether a {@link DocumentIndex} found on disk can be trusted before a writer is opened over it: a commit point,
 * readable, every segment file against its CRC32 footer, the same vector dimension. Damage is returned as a
 * problem (the caller moves the index aside); an intact index this build cannot read, or one that cannot be read
 * at all, is reported and refused with an exception.
 */
final class DocumentIndexCheck {

    private DocumentIndexCheck() {
    }

    record Verified(String problem, long bytes) {
    }

    private static final class OtherDimension extends IllegalArgumentException {
        OtherDimension(String message) {
            super(message);
        }
    }

    /**
     * Whether the index in {@code directory} can be trusted: null problem when it can (or when there is none), else
     * why not. Refuses (IllegalArgumentException) an index of another dimension; other I/O failures are thrown.
     */
    static Verified verify(Directory directory, Path dir, int dim) throws IOException {
        List<String> files = new ArrayList<>();
        for (String f : directory.listAll()) {
            if (!f.equals(IndexWriter.WRITE_LOCK_NAME) && !f.startsWith("extra")) {
                files.add(f);
            }
        }
        if (files.isEmpty()) {
            return new Verified(null, 0);
        }
        boolean hasCommit = files.stream().anyMatch(f -> f.startsWith(IndexFileNames.SEGMENTS + "_"));
        if (!hasCommit) {
            return new Verified("the directory holds " + files.size() + " index files but no commit point (segments_N is missing)", 0);
        }
        long bytes = 0;
        try {
            SegmentInfos.readLatestCommit(directory);
            try (DirectoryReader reader = DirectoryReader.open(directory)) {
                String stored = reader.getIndexCommit().getUserData().get(DocumentWriter.DIM_KEY);
                if (stored != null && !stored.equals(Integer.toString(dim))) {
                    throw new OtherDimension(dir + " holds vectors of dimension " + stored + ", not " + dim);
                }
                for (var leaf : reader.leaves()) {
                    leaf.reader().checkIntegrity(); // every file of the segment against its CRC32 footer
                }
                for (String f : reader.getIndexCommit().getFileNames()) {
                    bytes += directory.fileLength(f);
                }
            }
        } catch (IndexFormatTooOldException | IndexFormatTooNewException e) {
            throw unreadable(dir, "an index of a Lucene version this build does not read (" + e.getMessage() + ")", e);
        } catch (CorruptIndexException | EOFException
                | NoSuchFileException | FileNotFoundException e) {
            return new Verified("Lucene cannot trust the index: " + e.getClass().getSimpleName() + ": " + e.getMessage(), bytes);
        } catch (OtherDimension e) {
            throw e;
        } catch (RuntimeException e) {
            // A decoder that tripped over damaged bytes, or an intact index this build cannot read (a codec or format
            // whose SPI is missing: IllegalArgumentException): the files' own checksums tell which.
            String damaged = checksumProblem(directory, files);
            if (damaged != null) {
                return new Verified("Lucene could not read the index (" + e + ") and " + damaged, bytes);
            }
            throw unreadable(dir, "an intact index (every file's checksum holds) that this build cannot read: " + e, e);
        } catch (IOException e) {
            throw unreadable(dir, "the index could not be read (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")", e);
        }
        return new Verified(null, bytes);
    }

    /** The first of {@code files} whose Lucene checksum footer does not hold (and why), or null when all hold. */
    private static String checksumProblem(Directory directory, List<String> files) {
        for (String f : files) {
            try (IndexInput in = directory.openInput(f, IOContext.READONCE)) {
                CodecUtil.checksumEntireFile(in);
            } catch (IOException | RuntimeException e) {
                return f + " fails its checksum (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")";
            }
        }
        return null;
    }

    /**
     * Not damage: an index left exactly where it is, reported (no quarantine), and an {@link IOException} naming it
     * that refuses to open it (never an empty index started over data this build cannot read).
     */
    private static IOException unreadable(Path dir, String why, Throwable cause) {
        DamageLog.report(DocumentIndex.STORE, "document index", dir, null, why + "; left in place, not opened (not moved aside: it is not"
                + " damaged as far as its checksums tell)");
        String message = "the document index at " + dir + " is not opened: " + why + ". It was left as it is; open it with a build"
                + " that reads it, or move it away to start an empty index";
        if (cause instanceof IndexFormatTooOldException
                || cause instanceof IndexFormatTooNewException
                || cause instanceof RuntimeException) {
            UnsupportedFormatException u = new UnsupportedFormatException(dir, message);
            u.initCause(cause);
            return u;
        }
        return new IOException(message, cause);
    }
}
