package dev.attend.index.lucene;

import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.SearcherFactory;
import org.apache.lucene.search.SearcherManager;

/**
 * Near-real-time searchers over a writer, refreshed lazily: every write bumps a generation, and the first search
 * that finds its searcher older than the last write refreshes it, so a burst of writes costs one refresh.
 */
final class NrtSearchers implements Closeable {

    private final SearcherManager manager;
    private final AtomicLong writes = new AtomicLong();
    private final Object refreshLock = new Object();
    private volatile long refreshedWrites;

    NrtSearchers(IndexWriter writer) throws IOException {
        // writeAllDeletes: near-real-time readers write their deletes out, so that a save can copy them.
        this.manager = new SearcherManager(writer, true, true, new SearcherFactory());
    }

    /** Records a write: the next {@link #refreshIfStale} makes it visible. */
    void written() {
        writes.incrementAndGet();
    }

    void refreshIfStale() {
        long target = writes.get();
        if (refreshedWrites >= target) {
            return;
        }
        synchronized (refreshLock) {
            if (refreshedWrites >= target) {
                return;
            }
            long now = writes.get();
            try {
                manager.maybeRefreshBlocking();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            refreshedWrites = now;
        }
    }

    IndexSearcher acquire() {
        try {
            return manager.acquire();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    void release(IndexSearcher searcher) {
        try {
            manager.release(searcher);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() throws IOException {
        manager.close();
    }
}
