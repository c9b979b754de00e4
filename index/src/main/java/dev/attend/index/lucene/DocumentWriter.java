package dev.attend.index.lucene;

import dev.attend.index.lucene.DocumentIndex.Writes;
import dev.attend.index.store.StorageErrors;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.SearcherManager;
import org.apache.lucene.store.AlreadyClosedException;
import org.apache.lucene.store.Directory;

/**
 * The writer of a {@link DocumentIndex} and the searchers over what it wrote. Writes are serialised; a write that
 * fails is rolled back to the last commit (searches then see that commit) and throws what the caller shows, and
 * the next write opens a new writer from the last commit by itself (a Lucene writer hit by an I/O error while
 * flushing closes for good). {@link #atomically} keeps a request's writes and their commit together.
 */
final class DocumentWriter implements Closeable {

    /** The commit user data key that holds the vector dimension. */
    static final String DIM_KEY = "attend.dim";
    private static final System.Logger LOG = System.getLogger(DocumentIndex.class.getName());

    private final int dim;
    private final Path path;
    private final Directory directory;
    /** Serialises writes, so that a rollback after a failure never discards another request's half-done work. */
    private final ReentrantLock writeLock = new ReentrantLock();
    /** The writer, or null after a failure until the next write opens a new one from the last commit. */
    private IndexWriter writer;
    private volatile SearcherManager searchers;
    private volatile boolean closed;
    /** How deep in {@link #atomically} the thread holding {@link #writeLock} is (searches are refreshed after its commit). */
    private int atomicDepth;

    DocumentWriter(int dim, Path path, Directory directory, IndexWriter writer) throws IOException {
        this.dim = dim;
        this.path = path;
        this.directory = directory;
        this.writer = writer;
        this.searchers = new SearcherManager(writer, null);
    }

    /** A writer over {@code directory} (created or appended to) whose commits record {@code dim}. */
    static IndexWriter newWriter(Directory directory, int dim) throws IOException {
        IndexWriter w = new IndexWriter(directory, new IndexWriterConfig(new EnglishAnalyzer())
                .setOpenMode(IndexWriterConfig.OpenMode.CREATE_OR_APPEND));
        w.setLiveCommitData(Map.of(DIM_KEY, Integer.toString(dim)).entrySet());
        return w;
    }

    /** See {@link DocumentIndex#atomically}. */
    void atomically(Writes writes) throws IOException {
        writeLock.lock();
        atomicDepth++;
        boolean counted = true;
        try {
            writes.run();
            commit();
            atomicDepth--;
            counted = false;
            if (atomicDepth == 0) {
                refreshAfterCommit(); // committed: searches see all of it at once, never before
            }
        } catch (FailedWrite | StorageErrors.StorageFullException e) {
            throw e; // rolled back already (only this index's writes throw these)
        } catch (IOException e) {
            throw rollbackAfter(e);
        } catch (RuntimeException | Error e) {
            rollbackAfter(e);
            throw e;
        } finally {
            if (counted) {
                atomicDepth--; // failed: rolled back, searches see the last commit (rollbackAfter)
            }
            writeLock.unlock();
        }
    }

    /** Makes a write visible to searches now, unless it is inside {@link #atomically} (then after its commit). */
    void refreshUnlessAtomic() throws IOException {
        if (atomicDepth == 0) {
            searchers.maybeRefreshBlocking();
        }
    }

    private void refreshAfterCommit() {
        try {
            searchers.maybeRefreshBlocking();
        } catch (IOException | RuntimeException e) { // committed and durable; searches catch up at the next refresh
            LOG.log(System.Logger.Level.WARNING, "Document index " + path + ": committed, but refreshing the searchers failed: " + e);
        }
    }

    /** The exception a write that was already rolled back throws (so an enclosing {@link #atomically} does not again). */
    private static final class FailedWrite extends IOException {
        FailedWrite(String message, Throwable cause) {
            super(message, cause);
        }
    }

    @FunctionalInterface
    interface WriterWork<T> {
        T run(IndexWriter w) throws IOException;
    }

    /** Runs one write with a live writer; on failure rolls back to the last commit and throws what the caller shows. */
    <T> T write(WriterWork<T> work) throws IOException {
        writeLock.lock();
        try {
            IndexWriter w = liveWriter();
            try {
                return work.run(w);
            } catch (IOException | RuntimeException e) {
                throw rollbackAfter(e);
            }
        } finally {
            writeLock.unlock();
        }
    }

    /** Makes every write so far durable. */
    void commit() throws IOException {
        write(w -> {
            w.setLiveCommitData(Map.of(DIM_KEY, Integer.toString(dim)).entrySet());
            w.commit();
            return null;
        });
    }

    /** The writer, opened anew from the last commit when the previous one failed or was closed by a tragic event. */
    private IndexWriter liveWriter() throws IOException {
        if (closed) {
            throw new AlreadyClosedException("the document index " + path + " is closed");
        }
        IndexWriter w = writer;
        if (w != null && w.isOpen() && w.getTragicException() == null) {
            return w;
        }
        if (w != null) {
            try {
                w.rollback();
            } catch (IOException | RuntimeException ignored) {
                // it is closed already; its lock goes with it
            }
            writer = null;
        }
        IndexWriter fresh;
        try {
            fresh = newWriter(directory, dim);
        } catch (IOException e) {
            throw failure(e, "could not reopen the writer");
        }
        SearcherManager old = searchers;
        searchers = new SearcherManager(fresh, null);
        writer = fresh;
        old.close();
        LOG.log(System.Logger.Level.INFO, "Document index " + path + ": writer reopened from the last commit");
        return fresh;
    }

    /**
     * Rolls the index back to its last commit after {@code cause} (the writer is closed, searches then see the last
     * commit) and returns the exception to throw.
     */
    private IOException rollbackAfter(Throwable cause) throws IOException {
        IndexWriter w = writer;
        writer = null;
        if (w != null) {
            try {
                w.rollback();
            } catch (IOException | RuntimeException suppressed) {
                cause.addSuppressed(suppressed);
            }
        }
        SearcherManager old = searchers;
        try {
            searchers = new SearcherManager(directory, null); // the last commit, read-only until the next write
        } catch (IOException | RuntimeException suppressed) {
            cause.addSuppressed(suppressed);
        }
        if (old != searchers) {
            old.close();
        }
        LOG.log(System.Logger.Level.WARNING, "Document index " + path + ": a write failed and was rolled back to the last commit: " + cause);
        return failure(cause, "the write was not applied (the index is back at its last commit)");
    }

    private IOException failure(Throwable cause, String what) {
        if (cause instanceof FailedWrite f) {
            return f;
        }
        if (cause instanceof StorageErrors.StorageFullException f) {
            return f;
        }
        if (StorageErrors.isDiskFull(cause)) {
            return new StorageErrors.StorageFullException("the disk of the document index is full: " + what + "; free space and retry", cause);
        }
        return new FailedWrite("the document index could not be written (" + cause.getClass().getSimpleName() + ": "
                + cause.getMessage() + "): " + what, cause);
    }

    /** A searcher of the current manager (the manager is replaced when a failed write rolls the index back). */
    IndexSearcher acquire() throws IOException {
        while (true) {
            SearcherManager m = searchers;
            try {
                return m.acquire();
            } catch (AlreadyClosedException e) {
                if (m == searchers || closed) {
                    throw e;
                }
            }
        }
    }

    static void release(IndexSearcher s) throws IOException {
        s.getIndexReader().decRef(); // what SearcherManager.release does, whichever manager handed it out
    }

    @Override
    public void close() throws IOException {
        writeLock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            try {
                searchers.close();
                IndexWriter w = writer;
                writer = null;
                if (w != null && w.isOpen()) {
                    w.close(); // commits what is pending (rolls back when that fails)
                }
            } finally {
                directory.close();
            }
        } finally {
            writeLock.unlock();
        }
    }
}
