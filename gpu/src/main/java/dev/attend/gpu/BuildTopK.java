package dev.attend.gpu;

import static dev.attend.gpu.internals.BuildTopKKernel.DEPTH;
import static dev.attend.gpu.internals.BuildTopKKernel.MAX_SUBGROUPS;
import static dev.attend.gpu.internals.BuildTopKKernel.POS;
import static dev.attend.gpu.internals.BuildTopKKernel.TILE;

import com.aparapi.device.OpenCLDevice;
import dev.attend.gpu.internals.BuildTopKKernel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/**
 * The exact top-k of many queries over one row range on an OpenCL device ({@link BuildTopKKernel}): the index
 * build's shape. Per batch of up to {@link #MAX_BATCH} queries one launch runs the kernel's three passes (group
 * maxima, a threshold per query that at least k maxima of distinct rows reach, the rows at or above it); only the
 * candidate lists come back, and the host keeps each query's k best (scores from the device).
 *
 * <p>Exact whatever the device did: a list holding at least k rows and not overflowing holds every row at or above its
 * threshold, hence the top k. A list that overflowed gets a tighter threshold from its own first candidates (the k-th
 * best of them, k distinct rows) and is collected again on the device, up to {@link #REFINEMENTS} times; what is still
 * not bounded (exact ties across many rows) or came back short is scored by the host on the SIMD path, and counted.
 */
final class BuildTopK {

    /**
     * Queries per launch at most, where the batch's buffers allow (below): a GPU pays per launch, and a build's
     * self-link pass asks ~100,000 queries of a head over windows of 16,384 rows (13 launches of 8,192, not 54).
     */
    static final int MAX_BATCH = 8192;
    /** Rows per wanted row below which the device is not used: with fewer, fewer than k row groups might hold rows. */
    static final int MIN_ROWS_PER_K = TILE / MAX_SUBGROUPS;
    /** Largest k the device path takes (candidate lists of 2k per query). */
    static final int MAX_K = 4096;
    /** Row groups per wanted row the host aims for (more groups: a threshold nearer the k-th score, fewer candidates). */
    static final int GROUPS_PER_K = 4;
    static final int REFINEMENTS = 2;
    private static final int MIN_CAPACITY = 256;
    /** Floats of a batch's group maxima or candidate lists at most (64 MiB). */
    private static final long BATCH_FLOATS = 1L << 24;
    /**
     * Floats of a batch's stored scores at most (512 MiB on the device, and as Aparapi's host mirror, never copied):
     * 1,024 queries a launch over 131,072 rows. A grid wider than one query tile's worth recomputes instead.
     */
    static final long SCORE_FLOATS = 1L << 27;

    private final BuildSlots slots;
    private final long maxFloats;
    private final LongAdder calls = new LongAdder();
    private final LongAdder launches = new LongAdder();
    private final LongAdder waitNanos = new LongAdder();
    private final LongAdder heldNanos = new LongAdder();
    private final LongAdder launchNanos = new LongAdder();
    private final LongAdder layoutNanos = new LongAdder();
    private final LongAdder mergeNanos = new LongAdder();

    BuildTopK(OpenCLDevice device, long maxBufferBytes, int maxSlots) {
        this.slots = new BuildSlots(device, maxSlots);
        this.maxFloats = maxBufferBytes / Float.BYTES;
    }

    /** Whether rows [from, to) of a store of this dimension and this k take the device path. */
    boolean handles(int dim, int from, int to, int k) {
        if (k <= 0 || k > MAX_K || (long) TILE * (capacity(k) + 1) > Math.min(BATCH_FLOATS, maxFloats)) {
            return false;
        }
        long rows = to - from;
        return rows >= (long) MIN_ROWS_PER_K * k && rows / pieces(dim, rows) >= (long) MIN_ROWS_PER_K * k;
    }

    /** Rows a piece (one key buffer) may hold. */
    private long maxPieceRows(int dim) {
        long pad = (dim + DEPTH - 1) / DEPTH * DEPTH;
        return Math.max(TILE, maxFloats / (pad * TILE) * TILE);
    }

    /** Key buffers a range of {@code rows} rows is split into. */
    int pieces(int dim, long rows) {
        return (int) ((rows + maxPieceRows(dim) - 1) / maxPieceRows(dim));
    }

    static int capacity(int k) {
        return Math.max(MIN_CAPACITY, (2 * k + 31) / 32 * 32);
    }

    /**
     * The top k of rows [from, to) for every query, or null when no slot could be had (the pool closed, or this thread
     * was interrupted while waiting): the caller answers elsewhere. Requires {@link #handles}.
     */
    TopKResult topK(float[][] queries, VectorStore keys, int from, int to, int k, SimdScorer host, Device device,
                    Profile.Builder profile) {
        if (queries.length == 0) {
            return new TopKResult(List.of(), device);
        }
        // A query's collector is made when a second list or a refinement comes for it; over one piece a complete list
        // is the answer's superset, and its k best are taken by one sort (done[]).
        Collectors best = new Collectors(queries.length, k);
        int pieces = pieces(keys.dim(), to - from);
        TopK[] done = pieces == 1 ? new TopK[queries.length] : null;
        for (int p = 0; p < pieces; p++) {
            int lo = (int) (from + (long) (to - from) * p / pieces);
            int hi = (int) (from + (long) (to - from) * (p + 1) / pieces);
            if (!piece(queries, keys, lo, hi, k, best, done, host, profile)) {
                return null;
            }
        }
        List<TopK> out = new ArrayList<>(queries.length);
        for (int i = 0; i < queries.length; i++) {
            out.add(done != null && done[i] != null ? done[i] : best.of(i).drain());
        }
        return new TopKResult(out, device);
    }

    /**
     * Rows [from, to) (one piece) for every query; false when no slot could be had. The slot is held for the device's
     * part alone: the queries are laid out before it is taken, each launch's lists are copied out, and they are merged
     * into the collectors after it is given back, while another build's launches run.
     */
    private boolean piece(float[][] queries, VectorStore keys, int from, int to, int k, Collectors best, TopK[] done,
                          SimdScorer host, Profile.Builder profile) {
        long t = System.nanoTime();
        int maxTiles = (int) (maxPieceRows(keys.dim()) / TILE);
        float[] packed = BuildSlot.layOut(queries, keys.dim());
        // A head's first call lays its rows out before it waits for a slot; later calls find them resident.
        float[] rows = slots.covered(keys, from, to) ? null : BuildSlot.layOut(keys, from, to, maxTiles);
        long asked = System.nanoTime();
        layoutNanos.add(asked - t);
        BuildSlot slot = slots.acquire(keys, from, to);
        long held = System.nanoTime();
        waitNanos.add(held - asked);
        if (slot == null) {
            return false;
        }
        calls.increment();
        List<Integer> left = new ArrayList<>();
        List<BuildSlot.Lists> lists = new ArrayList<>();
        try {
            slot.hold(keys, from, to, maxTiles, rows);
            int rowLo = from - slot.from();
            int rowHi = to - slot.from();
            int subgroups = subgroups(rowLo, rowHi, k);
            int groups = ((rowHi - 1) / TILE - rowLo / TILE + 1) * subgroups;
            int capacity = capacity(k);
            long gridRows = (long) ((rowHi - 1) / TILE - rowLo / TILE + 1) * TILE;
            boolean stored = gridRows * TILE <= Math.min(SCORE_FLOATS, maxFloats);
            int batch = batchSize(queries.length, groups, capacity, stored ? gridRows : 0);
            slot.prepare(batch, groups, capacity, stored ? gridRows * batch : 0);
            t = profile.lap(t, Profile.Phase.UPLOAD);
            for (int q0 = 0; q0 < queries.length; q0 += batch) {
                int m = Math.min(batch, queries.length - q0);
                slot.setQueries(packed, q0, m);
                long launched = System.nanoTime();
                slot.score(rowLo, rowHi, subgroups, k, k / 8);
                launches.increment();
                profile.kernelMs += slot.kernelMs();
                t = profile.lap(t, Profile.Phase.SCORE);
                slot.fetch();
                launchNanos.add(System.nanoTime() - launched);
                BuildSlot.Lists batchLists = slot.lists(q0, m);
                lists.add(batchLists);
                t = profile.lap(t, Profile.Phase.COLLECT);
                int[] overflowed = batchLists.overflowed();
                if (overflowed.length > 0) {
                    for (int j : refine(slot, batchLists, overflowed, k, best, profile)) {
                        left.add(q0 + j);
                    }
                    t = profile.lap(t, Profile.Phase.MERGE);
                }
            }
        } finally {
            slots.release(slot);
            heldNanos.add(System.nanoTime() - held);
        }
        long merging = System.nanoTime();
        for (BuildSlot.Lists l : lists) {
            for (int j : merge(l, k, best, done, profile)) {
                left.add(l.first() + j);
            }
        }
        t = profile.lap(t, Profile.Phase.MERGE);
        mergeNanos.add(t - merging);
        if (!left.isEmpty()) {
            float[][] sub = new float[left.size()][];
            for (int i = 0; i < sub.length; i++) {
                sub[i] = queries[left.get(i)];
            }
            List<TopK> exact = host.topK(sub, keys, from, to, k).perQuery();
            for (int i = 0; i < sub.length; i++) {
                TopK e = exact.get(i);
                for (int r = 0; r < e.size(); r++) {
                    best.of(left.get(i)).offer(e.scores()[r], e.ids()[r]);
                }
            }
            profile.hostQueries += sub.length;
            profile.lap(t, Profile.Phase.MERGE);
        }
        return true;
    }

    /**
     * Offers the candidates of every list of {@code l} that holds from k to capacity rows to its query's collector, or
     * where {@code done} is given (one piece) puts their k best there; returns the batch queries that came back short
     * (the host scores them). Overflowed lists are {@link #refine}'s.
     */
    private static List<Integer> merge(BuildSlot.Lists l, int k, Collectors best, TopK[] done, Profile.Builder profile) {
        int m = l.counts().length;
        long work = 0;
        for (int j = 0; j < m; j++) {
            work += l.counts()[j] <= l.capacity() ? l.counts()[j] : 0;
        }
        profile.candidates += work;
        boolean[] shortList = new boolean[m];
        OpenClScorer.parallelIf(work, m).forEach(j -> {
            int count = l.counts()[j];
            if (count > l.capacity()) {
                return;
            }
            if (count < k) {
                shortList[j] = true;
                return;
            }
            int at = j * l.capacity();
            if (done != null) {
                done[l.first() + j] = TopKCollector.best(l.scores(), l.ids(), at, count, k);
                return;
            }
            TopKCollector c = best.of(l.first() + j);
            for (int e = 0; e < count; e++) {
                c.offer(l.scores()[at + e], l.ids()[at + e]);
            }
        });
        List<Integer> host = new ArrayList<>();
        for (int j = 0; j < m; j++) {
            if (shortList[j]) {
                host.add(j);
            }
        }
        return host;
    }

    /**
     * The lists of {@code overflowed} batch queries (in {@code l}), collected again on the device at the k-th best of
     * their first candidates, up to {@link #REFINEMENTS} times, then offered to their collectors; returns the batch
     * queries left to the host (no tighter bound found, or short).
     */
    private List<Integer> refine(BuildSlot slot, BuildSlot.Lists l, int[] overflowed, int k, Collectors best,
                                        Profile.Builder profile) {
        int m = l.counts().length;
        int[] pending = overflowed;
        List<Integer> host = new ArrayList<>();
        for (int round = 0; ; round++) {
            // 0: done; 1: overflowed; 2: came back short or without a tighter bound: the host scores it.
            int[] state = new int[pending.length];
            float[] tighter = new float[pending.length];
            for (int i = 0; i < pending.length; i++) {
                int j = pending[i];
                int count = slot.count(j);
                profile.candidates += Math.min(count, slot.capacity());
                TopKCollector c = new TopKCollector(k);
                for (int e = 0, n = Math.min(count, slot.capacity()); e < n; e++) {
                    c.offer(slot.score(j, e), slot.candidate(j, e));
                }
                if (count > slot.capacity()) {
                    // The k-th best of its first candidates bounds the list anew; no progress when it is their minimum.
                    float min = Float.POSITIVE_INFINITY;
                    for (int e = 0; e < slot.capacity(); e++) {
                        min = Math.min(min, slot.score(j, e));
                    }
                    state[i] = c.threshold() > min ? 1 : 2;
                    tighter[i] = c.threshold();
                } else if (count < k) {
                    state[i] = 2;
                } else {
                    best.of(l.first() + j).addAll(c);
                }
            }
            List<Integer> again = new ArrayList<>();
            float[] thresholds = new float[m];
            Arrays.fill(thresholds, POS);
            for (int i = 0; i < pending.length; i++) {
                if (state[i] == 1 && round < REFINEMENTS) {
                    again.add(pending[i]);
                    thresholds[pending[i]] = tighter[i];
                } else if (state[i] != 0) {
                    host.add(pending[i]);
                }
            }
            if (again.isEmpty()) {
                return host;
            }
            profile.refined += again.size();
            long launched = System.nanoTime();
            slot.refine(thresholds);
            launches.increment();
            profile.kernelMs += slot.kernelMs();
            slot.fetch();
            launchNanos.add(System.nanoTime() - launched);
            pending = again.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    /**
     * Row groups per key tile: the fewest whose groups holding rows number at least {@link #GROUPS_PER_K} k, else the
     * most. Subgroup s of a tile holds its rows r with {@code r % subgroups == s}, so a tile with v rows in range has
     * min(v, subgroups) groups holding rows.
     */
    static int subgroups(int rowLo, int rowHi, int k) {
        for (int s = 1; s < MAX_SUBGROUPS; s *= 2) {
            if (filledGroups(rowLo, rowHi, s) >= (long) GROUPS_PER_K * k) {
                return s;
            }
        }
        return MAX_SUBGROUPS;
    }

    static long filledGroups(int rowLo, int rowHi, int subgroups) {
        int first = rowLo / TILE;
        int last = (rowHi - 1) / TILE;
        if (first == last) {
            return Math.min(rowHi - rowLo, subgroups);
        }
        long inner = (long) (last - first - 1) * Math.min(TILE, subgroups);
        return inner + Math.min((first + 1) * TILE - rowLo, subgroups) + Math.min(rowHi - last * TILE, subgroups);
    }

    /**
     * Queries per launch: whole tiles, at most MAX_BATCH, the batch's maxima and lists within BATCH_FLOATS and, when
     * its scores are stored ({@code gridRows > 0}), those within SCORE_FLOATS.
     */
    private int batchSize(int m, int groups, int capacity, long gridRows) {
        long limit = Math.min(BATCH_FLOATS, maxFloats);
        long tiles = Math.min((m + TILE - 1) / TILE, MAX_BATCH / TILE);
        tiles = Math.min(tiles, limit / ((long) TILE * Math.max(groups, capacity + 1)));
        if (gridRows > 0) {
            tiles = Math.min(tiles, Math.min(SCORE_FLOATS, maxFloats) / (TILE * gridRows));
        }
        return (int) Math.max(1, tiles) * TILE;
    }

    SlotTotals totals() {
        return new SlotTotals(calls.sum(), launches.sum(), waitNanos.sum() / 1e9, heldNanos.sum() / 1e9, launchNanos.sum() / 1e9,
                layoutNanos.sum() / 1e9, mergeNanos.sum() / 1e9);
    }

    /** Frees the device rows held for {@code keys}. */
    void forget(VectorStore keys) {
        slots.forget(keys);
    }

    long bytes(VectorStore keys) {
        return slots.bytes(keys);
    }

    void close() {
        slots.close();
    }

    /** One collector per query of a call, made on first use (a call over one piece rarely needs any). */
    private static final class Collectors {
        private final TopKCollector[] made;
        private final int k;

        Collectors(int queries, int k) {
            this.made = new TopKCollector[queries];
            this.k = k;
        }

        /** Query i's collector. Parallel merges touch distinct queries; refinements and the host's answers run on the caller. */
        TopKCollector of(int i) {
            TopKCollector c = made[i];
            if (c == null) {
                c = new TopKCollector(k);
                made[i] = c;
            }
            return c;
        }
    }
}
