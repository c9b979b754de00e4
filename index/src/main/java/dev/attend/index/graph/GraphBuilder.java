package dev.attend.index.graph;

import dev.attend.gpu.Device;
import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scratch;
import dev.attend.gpu.TopK;
import dev.attend.gpu.TopKCollector;
import dev.attend.gpu.VectorMath;
import dev.attend.index.SimilarityEncoding;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/**
 * Builds and grows an {@link AttentionAwareIndex}'s graph (RoarGraph's query-to-key projection): the exact
 * top-{@code Nq} nodes of every training query come from the gpu {@link Scorer} in batches; the query's best
 * nodes (pivots) link to the others, pruned by occlusion to {@code M} neighbours; reverse edges follow; nodes the
 * projection left with few edges link to what they score best as queries themselves (their exact top-k on a GPU, a
 * beam search on the CPU). Online, a new node links by searching for itself and new training queries are projected
 * the same way. Reads vectors only through {@link GraphVectors}. Callers hold the index's monitor: one writer at a time.
 */
final class GraphBuilder {

    private final AttentionAwareIndex.Params params;
    private final SimilarityEncoding encoding;
    private final GraphVectors vectors;
    private final NeighborGraph graph;
    private volatile int[] entries = new int[0];
    /** Sum of the (encoded) training queries seen, for the entry points. */
    final double[] querySum;
    long queryCount;
    /**
     * Squared norms of the nodes while a build runs ({@link #cacheNorms}), null otherwise: pruning needs every
     * candidate's, and a build of a 128K-key head prunes some 14 million candidates, each key a hundred times over.
     */
    private float[] buildNorms;
    /** A slot per node for {@link CandidateLists#mostFrequent}, per build thread. */
    private final ThreadLocal<int[]> countScratch = ThreadLocal.withInitial(() -> new int[0]);

    GraphBuilder(AttentionAwareIndex.Params params, SimilarityEncoding encoding, GraphVectors vectors, NeighborGraph graph) {
        this.params = params;
        this.encoding = encoding;
        this.vectors = vectors;
        this.graph = graph;
        this.querySum = new double[vectors.dim()];
    }

    /** Where searches start (read by searches while the writer replaces it). */
    int[] entries() {
        return entries;
    }

    /** Computes every node's squared norm for the build that follows, until {@link #dropNorms}. */
    void cacheNorms() {
        int dim = vectors.dim();
        float[] norms = new float[vectors.size()];
        IntStream.range(0, (norms.length + 1023) / 1024).parallel().forEach(chunk -> {
            float[] row = new float[dim];
            for (int i = chunk * 1024; i < Math.min(norms.length, (chunk + 1) * 1024); i++) {
                vectors.readRow(i, row, 0);
                norms[i] = VectorMath.dot(row, 0, row, 0, dim);
            }
        });
        buildNorms = norms;
    }

    /** Online growth computes norms as it prunes: the cache would cost 4 bytes a key for the index's life. */
    void dropNorms() {
        buildNorms = null;
    }

    // ------------------------------------------------------------------ projection

    /**
     * Candidate entries held before the pivots' lists are compacted (256 MiB): a million training
     * queries with 16 pivots of 100 keys each would otherwise hold 6.4 GB at once. Compaction drops
     * repeats; only when that frees less than half are the lists merged into the graph and pruned
     * early, which loses a little (bytelm L0H0: recall@100 0.948 instead of 0.952 at 8%), because
     * a pruned list no longer competes with the candidates that arrive later.
     */
    private static final int CANDIDATE_FLUSH_ENTRIES = 1 << 26;
    /**
     * Candidates a pivot's list is pruned from: those most training queries put beside it. A pivot that many queries
     * reach gathers thousands, and pruning reads each one's row at random; 256 cost no recall on the shared heads and
     * took most of the projection's CPU time off (bench/RESULTS.md).
     */
    private static final int CANDIDATES_PER_PIVOT = 256;
    /** Candidates in angle order that pruning considers, per unit of degree (fewer cost recall; bench/RESULTS.md). */
    private static final int PRUNE_DEPTH = 16;
    /**
     * Training queries per exact top-k call: a GPU pays a few launches and transfers per call, so thousands of queries
     * per call, not hundreds (on the CPU the scan is tiled over queries either way).
     */
    private static final int QUERY_BATCH = 16_384;
    /** Keys linked by self-search per round: searches of a round run in parallel on the graph as it was before it. */
    private static final int LINK_ROUND = 1024;

    /** Links keys through the exact neighbours of {@code queries}: pivot -> the query's other neighbours. */
    void project(float[][] queries, Scorer scorer, BiConsumer<Integer, Integer> progress) {
        int n = vectors.size();
        if (n == 0 || queries.length == 0) {
            return;
        }
        int nq = Math.min(params.queryNeighbors(), n);
        int pivots = linksExactly(scorer) ? Math.max(1, params.pivotsPerQuery() / 2) : params.pivotsPerQuery();
        int batch = QUERY_BATCH;
        float[][] encodedBatch = new float[0][];
        // Candidate lists per pivot, merged and pruned together: several queries share a pivot.
        CandidateLists candidates = new CandidateLists(n);
        for (int from = 0; from < queries.length; from += batch) {
            int m = Math.min(batch, queries.length - from);
            if (encodedBatch.length != m) {
                encodedBatch = new float[m][];
            }
            for (int j = 0; j < m; j++) {
                encodedBatch[j] = encoding.encodeQuery(queries[from + j]);
                for (int c = 0; c < querySum.length; c++) {
                    querySum[c] += encodedBatch[j][c];
                }
            }
            queryCount += m;
            List<TopK> top = vectors.exactTopK(encodedBatch, 0, n, nq, scorer);
            for (int j = 0; j < m; j++) {
                TopK t = top.get(j);
                if (t.size() < 2) {
                    continue;
                }
                // The query's best keys (pivots) each link to the rest of its list: keys that one
                // attention query wants together become neighbours.
                for (int p = 0; p < Math.min(pivots, t.size()); p++) {
                    candidates.add(t.ids()[p], t.ids(), t.size());
                }
                // Checked per query: a batch of 16,384 queries adds up to 26M entries, 100 MB past the bound.
                if (candidates.entries() >= CANDIDATE_FLUSH_ENTRIES && candidates.compact() >= CANDIDATE_FLUSH_ENTRIES / 2) {
                    linkPivots(candidates);
                }
            }
            if (progress != null) {
                progress.accept(Math.min(from + m, queries.length), queries.length);
            }
        }
        linkPivots(candidates);
        updateEntries();
    }


    /** Merges each pivot's candidates into its list (pruned), adds the reverse edges, and empties {@code candidates}. */
    private void linkPivots(CandidateLists candidates) {
        int[] pivots = candidates.nodes();
        if (pivots.length == 0) {
            return;
        }
        int n = vectors.size();
        graph.ensure(n);
        // Pivots are pruned independently of each other: in parallel.
        IntStream.range(0, pivots.length).parallel().forEach(i -> {
            int pivot = pivots[i];
            int[] counts = countScratch.get();
            if (counts.length < n) {
                counts = new int[n];
                countScratch.set(counts);
            }
            int[] distinct = candidates.mostFrequent(pivot, CANDIDATES_PER_PIVOT, counts);
            graph.set(pivot, withCandidates(pivot, distinct, 0, distinct.length));
        });
        candidates.clear();
        int[][] lists = new int[pivots.length][];
        for (int i = 0; i < pivots.length; i++) {
            lists[i] = graph.neighbors(pivots[i]);
        }
        addReverseEdges(pivots, lists);
    }

    /**
     * For every i, adds the edges {@code lists[i][j] -> sources[i]}: the in-edges are gathered per
     * target first, so each target's list is merged and pruned once, in parallel over targets.
     */
    private void addReverseEdges(int[] sources, int[][] lists) {
        int n = vectors.size();
        graph.ensure(n);
        int[] start = new int[n + 1];
        for (int[] list : lists) {
            for (int target : list) {
                start[target + 1]++;
            }
        }
        for (int i = 0; i < n; i++) {
            start[i + 1] += start[i];
        }
        int[] fill = Arrays.copyOf(start, n);
        int[] in = new int[start[n]];
        for (int i = 0; i < lists.length; i++) {
            for (int target : lists[i]) {
                in[fill[target]++] = sources[i];
            }
        }
        IntStream.range(0, n).parallel().forEach(node -> {
            int count = start[node + 1] - start[node];
            if (count == 0) {
                return;
            }
            graph.set(node, withCandidates(node, in, start[node], count));
        });
    }

    /**
     * {@code node}'s list merged with the {@code count} candidates of {@code extra} from {@code offset} (repeats and the
     * node itself dropped), pruned to M when longer: every way a list grows ends here.
     */
    private int[] withCandidates(int node, int[] extra, int offset, int count) {
        int[] merged = mergeDistinct(graph.neighbors(node), extra, offset, count, node);
        return merged.length <= params.maxDegree() ? merged : prune(node, merged);
    }

    /** The distinct values of {@code a} and of {@code b[bOffset, bOffset + bCount)}, without {@code exclude}, ascending. */
    private static int[] mergeDistinct(int[] a, int[] b, int bOffset, int bCount, int exclude) {
        int[] all = new int[a.length + bCount];
        System.arraycopy(a, 0, all, 0, a.length);
        System.arraycopy(b, bOffset, all, a.length, bCount);
        Arrays.sort(all);
        int n = 0;
        for (int i = 0; i < all.length; i++) {
            int x = all[i];
            if (x != exclude && (n == 0 || all[n - 1] != x)) {
                all[n++] = x;
            }
        }
        return n == all.length ? all : Arrays.copyOf(all, n);
    }

    /**
     * Occlusion pruning: candidates in order of angle to {@code node}; a candidate p is dropped when
     * an already kept r is closer to p than {@code node} is (the edge node->r already leads towards
     * p), in Euclidean distance or in angle. Attention scores are |q||k|cos: keys of one direction but
     * different norms are far apart in Euclidean terms yet rank alike for every query, and keys of
     * similar norm differ by angle only; dropping what either measure occludes keeps the list spread
     * over both. (Recall@100 at 8% on bytelm L0H0 / L5H4 with Euclidean only: 0.954 / 0.945; angle
     * only: 0.949 / 0.955; either: 0.955 / 0.949; both required: 0.947 / 0.955.)
     */
    private int[] prune(int node, int[] candidates) {
        int m = params.maxDegree();
        int c = candidates.length;
        if (c == 0) {
            return candidates;
        }
        int dim = vectors.dim();
        // The candidates' rows side by side, so the pairwise products read one array; then per candidate its
        // distance, angle (1 - cosine) and squared norm. Reused per thread: allocated per call, these were 7 GB
        // per build of a 128K-key head to zero and collect.
        float[] rows = PRUNE_SCRATCH.floats((c + 1) * dim + 3 * c);
        int distAt = (c + 1) * dim;
        int angleAt = distAt + c;
        int normAt = angleAt + c;
        vectors.readRow(node, rows, c * dim);
        float[] cached = buildNorms;
        float nodeNorm = cached != null && node < cached.length ? cached[node] : VectorMath.dot(rows, c * dim, rows, c * dim, dim);
        long[] order = PRUNE_SCRATCH.longs(c);
        // Rows first, products after: the reads of a batch overlap.
        vectors.readRows(candidates, c, rows);
        for (int i = 0; i < c; i++) {
            float norm = cached != null && candidates[i] < cached.length ? cached[candidates[i]] : VectorMath.dot(rows, i * dim, rows, i * dim, dim);
            float ip = VectorMath.dot(rows, c * dim, rows, i * dim, dim);
            float angle = 1 - ip / (float) Math.sqrt(Math.max(nodeNorm * norm, 1e-30f));
            rows[normAt + i] = norm;
            rows[distAt + i] = nodeNorm + norm - 2 * ip;
            rows[angleAt + i] = angle;
            order[i] = ((long) sortableBits(angle) << 32) | i;
        }
        Arrays.sort(order, 0, c);
        int[] kept = new int[Math.min(m, c)];
        int[] keptIdx = new int[kept.length];
        int count = 0;
        // A key that many queries reach gathers thousands of candidates; past the nearest PRUNE_DEPTH x M the
        // occlusion test (M products each) rarely keeps one.
        int considered = Math.min(c, PRUNE_DEPTH * m);
        for (int oi = 0; oi < considered && count < kept.length; oi++) {
            int i = (int) order[oi];
            boolean occluded = false;
            for (int r = 0; r < count && !occluded; r++) {
                int j = keptIdx[r];
                float ip = VectorMath.dot(rows, i * dim, rows, j * dim, dim);
                float ni = rows[normAt + i];
                float nj = rows[normAt + j];
                boolean byDistance = ni + nj - 2 * ip < rows[distAt + i];
                boolean byAngle = 1 - ip / (float) Math.sqrt(Math.max(ni * nj, 1e-30f)) < rows[angleAt + i];
                occluded = byDistance || byAngle;
            }
            if (!occluded) {
                keptIdx[count] = i;
                kept[count++] = candidates[i];
            }
        }
        if (count < kept.length / 2) {
            // Too few survive (points in a line): fill with the nearest dropped ones, as NSG/Vamana's alpha does.
            boolean[] in = new boolean[c];
            for (int r = 0; r < count; r++) {
                in[keptIdx[r]] = true;
            }
            for (int oi = 0; oi < c && count < kept.length / 2; oi++) {
                int i = (int) order[oi];
                if (!in[i]) {
                    kept[count++] = candidates[i];
                }
            }
        }
        return Arrays.copyOf(kept, count);
    }

    /**
     * Rows, per-candidate values and the candidates' order of {@link #prune}, per thread (up to 2^17 of each kept: some
     * 900 candidates at d = 128).
     */
    private static final Scratch PRUNE_SCRATCH = new Scratch(1 << 17);

    /** An int that orders like {@code f} (for sorting floats packed in longs). */
    private static int sortableBits(float f) {
        int bits = Float.floatToIntBits(f);
        return bits ^ ((bits >> 31) & 0x7fffffff);
    }

    /** Adds the edge from -> to, pruning from's list when it is full. */
    private void addReverse(int from, int to) {
        int[] list = graph.neighbors(from);
        for (int x : list) {
            if (x == to) {
                return;
            }
        }
        if (list.length < params.maxDegree()) {
            graph.set(from, NeighborGraph.append(list, to));
        } else {
            graph.set(from, prune(from, NeighborGraph.append(list, to)));
        }
    }

    /**
     * Connectivity: every key the projection left with fewer than M/2 edges links to the keys it scores best as a
     * query itself (merged with its projection edges, pruned), then the reverse edges follow in one pass. Keys no
     * training query reached get their only edges here (linking every key cost as much as the projection and gained
     * no recall). On a GPU scorer those keys are exact top-k queries of one more pass over the keys of their window
     * ({@link #SELF_LINK_WINDOW}; a beam search per key was a third of a CPU build, and the cores are the build's
     * bottleneck once the projection's top-k is on the GPU); on the CPU each searches the graph, in rounds that search
     * the graph as it stood before the round, so the result does not depend on the number of threads.
     */
    void linkUnreached(Scorer scorer, IntConsumer linkedSoFar) {
        int n = vectors.size();
        if (entries.length == 0) {
            updateEntries();
        }
        graph.ensure(n);
        int wellLinked = params.maxDegree() / 2;
        int[] nodes = IntStream.range(0, n).filter(i -> graph.degree(i) < wellLinked).toArray();
        int[][] lists = new int[nodes.length][];
        boolean exact = linksExactly(scorer);
        int batch = exact ? QUERY_BATCH : LINK_ROUND;
        for (int from = 0; from < nodes.length; from += batch) {
            int first = from;
            int count = Math.min(batch, nodes.length - from);
            int[][] found = exact ? exactSelfNeighbors(nodes, first, count, scorer) : new int[count][];
            IntStream.range(0, count).parallel().forEach(i -> {
                int node = nodes[first + i];
                int[] f = exact ? found[i] : searchFor(node);
                lists[first + i] = withCandidates(node, f, 0, f.length);
            });
            // Set after the round's searches: they all saw the graph as it stood before it.
            for (int i = 0; i < count; i++) {
                graph.set(nodes[first + i], lists[first + i]);
            }
            if (linkedSoFar != null) {
                linkedSoFar.accept(first + count == nodes.length ? n : nodes[first + count]);
            }
        }
        addReverseEdges(nodes, lists);
    }

    /**
     * How builds link under-linked keys: {@code auto} (exactly on a GPU scorer, by search on the CPU), {@code exact} or
     * {@code search} (system property {@code attend.index.link}: to compare the two on one machine).
     */
    private static final String LINK = System.getProperty("attend.index.link", "auto");

    /**
     * Whether a build on {@code scorer} links under-linked keys by their exact neighbours (a GPU: one more pass over the
     * keys costs it little) rather than by searching the graph. Such a build projects each training query from half
     * of {@link AttentionAwareIndex.Params#pivotsPerQuery} pivots: the exact links make up for the others on the shared
     * heads, and a pivot's pruning is the CPU's largest part of a GPU build (bench/RESULTS.md).
     */
    static boolean linksExactly(Scorer scorer) {
        return switch (LINK) {
            case "exact" -> true;
            case "search" -> false;
            case "auto" -> scorer.device().kind() != Device.Kind.CPU;
            default -> throw new IllegalStateException("attend.index.link must be auto, exact or search, not " + LINK);
        };
    }

    /**
     * Rows of the window whose keys an under-linked key takes its exact neighbours from (system property
     * {@code attend.index.selfLinkWindow}): keys {@code [0, n)} fall in {@code max(1, n / window)} windows of equal
     * size, so the pass costs (under-linked keys) x window instead of x n, linear in the tokens rather than quadratic.
     * On the GPU machine this pass was three quarters of a 128K head's top-k work with the window the whole head.
     */
    static final int SELF_LINK_WINDOW = Integer.getInteger("attend.index.selfLinkWindow", 16_384);

    /**
     * The best {@link AttentionAwareIndex.Params#buildBeam} keys of {@code nodes[from, from + count)} (ascending) as
     * queries, each without itself, among the keys of its own window ({@link #SELF_LINK_WINDOW}).
     */
    private int[][] exactSelfNeighbors(int[] nodes, int from, int count, Scorer scorer) {
        int n = vectors.size();
        int windows = selfLinkWindows(n, SELF_LINK_WINDOW);
        int[][] found = new int[count][];
        for (int i = 0; i < count; ) {
            int w = windowOf(nodes[from + i], windows, n);
            int lo = windowStart(w, windows, n);
            int hi = windowStart(w + 1, windows, n);
            int j = i;
            while (j < count && nodes[from + j] < hi) {
                j++;
            }
            float[][] self = new float[j - i][vectors.dim()];
            for (int q = i; q < j; q++) {
                vectors.readRow(nodes[from + q], self[q - i], 0);
            }
            List<TopK> top = vectors.exactTopK(self, lo, hi, Math.min(params.buildBeam() + 1, hi - lo), scorer);
            for (int q = i; q < j; q++) {
                found[q] = withoutItself(top.get(q - i), nodes[from + q]);
            }
            i = j;
        }
        return found;
    }

    /** Windows of at least {@code window} keys (one below two windows' worth) that the self-link pass splits n keys into. */
    static int selfLinkWindows(int n, int window) {
        return Math.max(1, n / Math.max(1, window));
    }

    /** First key of window {@code w} of {@code windows} over n keys ({@code w == windows}: n). */
    static int windowStart(int w, int windows, int n) {
        return (int) ((long) n * w / windows);
    }

    /** The window of {@code node}: the last whose start is at or below it. */
    static int windowOf(int node, int windows, int n) {
        int w = (int) ((long) node * windows / n);
        while (windowStart(w + 1, windows, n) <= node) {
            w++; // the division may land one window early
        }
        return w;
    }

    /** The ids of {@code t} but {@code node}, at most {@link AttentionAwareIndex.Params#buildBeam}. */
    private int[] withoutItself(TopK t, int node) {
        int[] ids = new int[Math.min(params.buildBeam(), t.size())];
        int m = 0;
        for (int j = 0; j < t.size() && m < ids.length; j++) {
            if (t.ids()[j] != node) {
                ids[m++] = t.ids()[j];
            }
        }
        return m == ids.length ? ids : Arrays.copyOf(ids, m);
    }

    /** The keys a beam search with key {@code node} as the query finds (itself excluded). */
    private int[] searchFor(int node) {
        float[] vec = new float[vectors.dim()];
        vectors.readRow(node, vec, 0);
        TopKCollector found = GraphSearcher.forThread().search(graph, vectors.scorer(vec), vectors.size(), entries, params.buildBeam(), params.buildBeam(), Long.MAX_VALUE,
                x -> x == node);
        return found.drain().ids();
    }

    /** Links {@code node} to the keys a search with the node itself as the query finds; returns its new list. */
    private int[] linkBySearch(int node) {
        int[] found = searchFor(node);
        int[] kept = withCandidates(node, found, 0, found.length);
        graph.set(node, kept);
        return kept;
    }

    /** Connects a new key and adds its reverse edges. */
    void link(int node) {
        for (int nb : linkBySearch(node)) {
            addReverse(nb, node);
        }
    }

    void updateEntries() {
        int n = vectors.size();
        if (n == 0) {
            entries = new int[0];
            return;
        }
        // Entry keys: the best keys for the mean training query (or any key, before queries exist),
        // so that searches start where attention queries point rather than at the keys' centre.
        float[] mean = new float[querySum.length];
        if (queryCount > 0) {
            for (int c = 0; c < mean.length; c++) {
                mean[c] = (float) (querySum[c] / queryCount);
            }
        }
        int want = Math.min(params.entryPoints(), n);
        TopKCollector best = new TopKCollector(want);
        int stride = Math.max(1, n / 20_000);
        GraphVectors.QueryScorer byMean = vectors.scorer(mean);
        for (int i = 0; i < n; i += stride) {
            best.offer(queryCount > 0 ? byMean.score(i) : -i, i);
        }
        // Plus an even sample of keys: every search scores them first, so that a query far from the
        // mean query still starts near its own region (sqrt(n)/8 of them, 8 to 128: each costs a
        // distance computation of every search; sqrt(n)/2 cost bytelm L5H4 0.004 of recall at 8%).
        int probes = (int) Math.min(n, Math.max(8, Math.min(128, Math.sqrt(n) / 8)));
        int[] chosen = best.drain().ids();
        LinkedHashSet<Integer> all = new LinkedHashSet<>();
        for (int e : chosen) {
            all.add(e);
        }
        for (int i = 0; i < probes; i++) {
            all.add((int) ((long) i * n / probes));
        }
        entries = all.stream().mapToInt(Integer::intValue).toArray();
    }
}
