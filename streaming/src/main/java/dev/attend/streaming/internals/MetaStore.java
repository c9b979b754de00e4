package dev.attend.streaming.internals;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.TreeMap;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.StateStore;
import org.apache.kafka.streams.processor.StateStoreContext;
import org.apache.kafka.streams.query.Position;
import org.apache.kafka.streams.query.PositionBound;
import org.apache.kafka.streams.query.Query;
import org.apache.kafka.streams.query.QueryConfig;
import org.apache.kafka.streams.query.QueryResult;
import org.apache.kafka.streams.state.KeyValueBytesStoreSupplier;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The in-memory, least-recently-used store of the users' meta values (no changelog: everything in it follows from
 * the events store). Kafka's own {@code Stores.lruMap} (4.4) cannot be used here: its {@code close()} marks it
 * closed and keeps its entries, and its {@code init()} does not open it again. Kafka Streams reuses a task's store
 * objects when it revives the task after a {@code TaskCorruptedException} (what every restart after a
 * {@code kill -9} under exactly-once meets: the local store has no checkpoint, so it is wiped and restored from
 * its changelog), so a revived task kept a store that interactive queries saw closed for good ("Cannot get state
 * store sequence-meta for task 0_3 because the store is not open") and that still held the meta values of the
 * killed run's uncommitted work. This one is empty and open after every {@code init}, and empty after
 * {@code close}: a revived task rebuilds its users' meta values from the restored events.
 */
public final class MetaStore implements KeyValueStore<Bytes, byte[]> {

    private final String name;
    private final LinkedHashMap<Bytes, byte[]> map;
    private volatile boolean open;

    private MetaStore(String name, int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be >= 1, got " + capacity);
        }
        this.name = name;
        this.map = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Bytes, byte[]> eldest) {
                return size() > capacity;
            }
        };
    }

    /** A supplier of these stores: each store keeps the {@code capacity} most recently used keys. */
    public static KeyValueBytesStoreSupplier supplier(String name, int capacity) {
        return new KeyValueBytesStoreSupplier() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public KeyValueStore<Bytes, byte[]> get() {
                return new MetaStore(name, capacity);
            }

            @Override
            public String metricsScope() {
                return "in-memory-lru";
            }
        };
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public void init(StateStoreContext context, StateStore root) {
        synchronized (this) {
            map.clear(); // a revived task starts from what its restored events say, not from its last run
        }
        context.register(root, (key, value) -> { }); // not logged: nothing to restore
        open = true;
    }

    @Override
    public void close() {
        open = false;
        synchronized (this) {
            map.clear();
        }
    }

    @Override
    public boolean persistent() {
        return false;
    }

    @Override
    public boolean isOpen() {
        return open;
    }

    @Override
    public synchronized void put(Bytes key, byte[] value) {
        if (value == null) {
            map.remove(key);
        } else {
            map.put(key, value);
        }
    }

    @Override
    public synchronized byte[] putIfAbsent(Bytes key, byte[] value) {
        byte[] old = map.get(key);
        if (old == null) {
            put(key, value);
        }
        return old;
    }

    @Override
    public synchronized void putAll(List<KeyValue<Bytes, byte[]>> entries) {
        for (KeyValue<Bytes, byte[]> e : entries) {
            put(e.key, e.value);
        }
    }

    @Override
    public synchronized byte[] delete(Bytes key) {
        return map.remove(key);
    }

    @Override
    public synchronized byte[] get(Bytes key) {
        return map.get(key);
    }

    /** A copy of the entries from {@code from} to {@code to} (inclusive; null: open), in key order. */
    private synchronized KeyValueIterator<Bytes, byte[]> copy(Bytes from, Bytes to, boolean reverse) {
        TreeMap<Bytes, byte[]> sorted = new TreeMap<>();
        map.forEach((k, v) -> {
            if ((from == null || k.compareTo(from) >= 0) && (to == null || k.compareTo(to) <= 0)) {
                sorted.put(k, v);
            }
        });
        List<KeyValue<Bytes, byte[]>> list = new ArrayList<>(sorted.size());
        (reverse ? sorted.descendingMap() : sorted).forEach((k, v) -> list.add(KeyValue.pair(k, v)));
        Iterator<KeyValue<Bytes, byte[]>> it = list.iterator();
        return new KeyValueIterator<>() {
            private KeyValue<Bytes, byte[]> peeked;

            @Override
            public boolean hasNext() {
                return peeked != null || it.hasNext();
            }

            @Override
            public KeyValue<Bytes, byte[]> next() {
                if (peeked != null) {
                    KeyValue<Bytes, byte[]> p = peeked;
                    peeked = null;
                    return p;
                }
                return it.next();
            }

            @Override
            public Bytes peekNextKey() {
                if (peeked == null) {
                    if (!it.hasNext()) {
                        throw new NoSuchElementException();
                    }
                    peeked = it.next();
                }
                return peeked.key;
            }

            @Override
            public void close() {
            }
        };
    }

    @Override
    public KeyValueIterator<Bytes, byte[]> range(Bytes from, Bytes to) {
        return copy(from, to, false);
    }

    @Override
    public KeyValueIterator<Bytes, byte[]> reverseRange(Bytes from, Bytes to) {
        return copy(from, to, true);
    }

    @Override
    public KeyValueIterator<Bytes, byte[]> all() {
        return copy(null, null, false);
    }

    @Override
    public KeyValueIterator<Bytes, byte[]> reverseAll() {
        return copy(null, null, true);
    }

    @Override
    public synchronized long approximateNumEntries() {
        return map.size();
    }

    @Override
    public <R> QueryResult<R> query(Query<R> query, PositionBound positionBound, QueryConfig config) {
        return QueryResult.forUnknownQueryType(query, this);
    }

    @Override
    public Position getPosition() {
        return Position.emptyPosition();
    }
}
