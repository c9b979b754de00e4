#!/usr/bin/env python3
"""Writes gpu/src/main/java/dev/attend/gpu/internals/BuildTopKKernel.java.

The kernel keeps PER x PER accumulators per work item in registers (a register-tiled matrix product);
Aparapi has no private arrays in registers, so the unrolled code is generated.
Run from the repository root after changing a parameter: python3 gpu/codegen/gen_build_topk_kernel.py
"""
import os
import sys

SIDE = 16                                   # a work-group is SIDE x SIDE work items
PER = 8                                     # queries and keys per work item, each way
TILE = SIDE * PER                           # queries and keys per work-group tile
DEPTH = int(os.environ.get("DEPTH", 16))    # components per local-memory step
THREADS = SIDE * SIDE
LOADS = DEPTH * TILE // THREADS             # floats each work item copies per operand and step
RED = SIDE + 1                              # row stride of the maxima reduction (odd: no bank conflicts)
assert DEPTH * TILE % THREADS == 0 and TILE * RED <= 2 * DEPTH * TILE


def plus(n):
    return f" + {n}" if n else ""


def stored(i, j):
    """Offset of accumulator s{i}_{j} in the score buffer from sOff: key-major inside a query tile x key tile block."""
    return plus(j * SIDE * TILE + i * SIDE)


def gemm():
    L = []
    for i in range(PER):
        L.append("        float " + ", ".join(f"s{i}_{j} = 0f" for j in range(PER)) + ";")
    L.append("        int sOff = ((qt * getNumGroups(1) + gt) * TILE + tk) * TILE + tq;")
    L.append("        if (pass == PASS_COLLECT && stored == 1) {")
    for i in range(PER):
        L.append("            " + " ".join(f"s{i}_{j} = scores[sOff{stored(i, j)}];" for j in range(PER)))
    L.append("        } else {")
    L.extend("    " + x for x in product())
    L.append("            if (stored == 1) {")
    for i in range(PER):
        L.append("                " + " ".join(f"scores[sOff{stored(i, j)}] = s{i}_{j};" for j in range(PER)))
    L.append("            }")
    L.append("        }")
    return L


def product():
    L = []
    L.append("        int qOff = qt * dimPad * TILE;")
    L.append("        int kOff = (firstTile + gt) * dimPad * TILE;")
    L.append("        for (int c0 = 0; c0 < dimPad; c0 += DEPTH) {")
    L.append("            int qs = qOff + c0 * TILE + l;")
    L.append("            int ks = kOff + c0 * TILE + l;")
    for e in range(LOADS):
        L.append(f"            lds[l{plus(e * THREADS)}] = queries[qs{plus(e * THREADS)}];")
    for e in range(LOADS):
        L.append(f"            lds[KEYS_AT + l{plus(e * THREADS)}] = keys[ks{plus(e * THREADS)}];")
    L.append("            localBarrier();")
    L.append("            for (int d = 0; d < DEPTH; d++) {")
    L.append("                int at = d * TILE;")
    for i in range(PER):
        L.append(f"                float a{i} = lds[at + tq{plus(i * SIDE)}];")
    for j in range(PER):
        L.append(f"                float b{j} = lds[KEYS_AT + at + tk{plus(j * SIDE)}];")
    for i in range(PER):
        L.append("                " + " ".join(f"s{i}_{j} += a{i} * b{j};" for j in range(PER)))
    L.append("            }")
    L.append("            localBarrier();")
    L.append("        }")
    return L


def reductions():
    """Tree reductions over the work-group, each through its own local array; every work item gets the result."""
    out = []
    for name, typ, arr, combine in (("reduceSum", "int", "ired", "{a} + {b}"), ("reduceMin", "float", "fred", "min({a}, {b})"),
                                    ("reduceMax", "float", "fred", "max({a}, {b})")):
        out.append(f"""    private {typ} {name}({typ} v, int l) {{
        {arr}[l] = v;
        localBarrier();
        for (int s = THREADS / 2; s > 0; s = s / 2) {{
            if (l < s) {{
                {arr}[l] = {combine.format(a=f"{arr}[l]", b=f"{arr}[l + s]")};
            }}
            localBarrier();
        }}
        {typ} out = {arr}[0];
        localBarrier();
        return out;
    }}""")
    return "\n\n".join(out)


def epilogues():
    L = []
    L.append("        // Row (relative to the resident rows) of this work item's key j: r0 + j * SIDE.")
    L.append("        int r0 = (firstTile + gt) * TILE + tk;")
    for j in range(PER):
        L.append(f"        int v{j} = 0;")
        L.append(f"        if (r0{plus(j * SIDE)} >= rowLo && r0{plus(j * SIDE)} < rowHi) {{")
        L.append(f"            v{j} = 1;")
        L.append("        }")
    L.append("        if (pass == PASS_MAXIMA) {")
    for i in range(PER):
        L.append(f"            float x{i} = NEG;")
        for j in range(PER):
            L.append(f"            if (v{j} == 1) {{")
            L.append(f"                x{i} = max(x{i}, s{i}_{j});")
            L.append("            }")
        L.append(f"            lds[(tq{plus(i * SIDE)}) * RED + tk] = x{i};")
    L.append("            localBarrier();")
    L.append("            writeMaxima(qt, gt, l);")
    L.append("        } else {")
    L.append("            int q = qt * TILE + tq;")
    L.append("            int id = rowBase + r0;")
    for i in range(PER):
        L.append(f"            float t{i} = thresholds[q{plus(i * SIDE)}];")
        for j in range(PER):
            L.append(f"            if (v{j} == 1 && s{i}_{j} >= t{i}) {{")
            L.append(f"                append(q{plus(i * SIDE)}, id{plus(j * SIDE)}, s{i}_{j});")
            L.append("            }")
    L.append("        }")
    return L


TEMPLATE = '''package dev.attend.gpu.internals;

import com.aparapi.Kernel;

// GENERATED by gpu/codegen/gen_build_topk_kernel.py (SIDE=@SIDE@, PER=@PER@, DEPTH=@DEPTH@): edit the generator, not this file.

/**
 * OpenCL kernel (through Aparapi) for the exact top-k of many queries over one resident range of keys: the index
 * build's shape (tens of thousands of queries against one head's keys), where scoring is a matrix product.
 *
 * <p>Layout: rows and queries in tiles of {@link #TILE}, dimension-major inside a tile ({@code keys[(t * dimPad + c) *
 * TILE + r]}, dimensions zero-padded to a multiple of {@link #DEPTH}), so that a work-group copies each step's
 * {@code DEPTH x TILE} slice of both operands with consecutive addresses into local memory. A work-group of
 * {@code SIDE x SIDE} work items scores one tile of queries against one tile of keys; a work item keeps
 * {@code PER x PER} accumulators in registers (queries {@code tq + i * SIDE}, keys {@code tk + j * SIDE}), so every
 * value read from local memory feeds PER multiply-adds.
 *
 * <p>Three passes over the same grid, in one launch ({@code execute(range, 3)}; {@code passOffset} starts later):
 * <ol>
 * <li>{@link #PASS_MAXIMA}: each query's maximum over each group of rows ({@code subgroups} groups per key tile:
 * rows {@code r} with {@code r % subgroups == s}), written to {@link #maxima}; nothing else leaves the chip.</li>
 * <li>{@link #PASS_THRESHOLD}: one work-group per query bisects its group maxima for a threshold that at least
 * {@code k} of them reach (k maxima of distinct rows: the true top-k all score at or above it), stopping once at most
 * {@code k + slack} reach it; zeroes the query's candidate counter. With {@code refine == 1} the thresholds come from
 * {@link #refined} instead (the host's tighter bound for lists that overflowed).</li>
 * <li>{@link #PASS_COLLECT}: a tile whose group maxima reach no query's threshold leaves at once; the others take
 * the scores pass 0 stored ({@code stored == 1}) or recompute them (the same code, so the same bits) and append every
 * row at or above the query's threshold to its list (atomic counter; a count above {@code capacity} means the list
 * overflowed).</li>
 * </ol>
 *
 * <p>Storing the scores (4 bytes per query and row of the grid) costs pass 0 one write and pass 2 one read of them,
 * where recomputing cost pass 2 the whole product again: d multiply-adds per score against 8 bytes of memory traffic.
 *
 * <p>Aparapi translates {@link #run()} from bytecode: no objects, strings, switches or exceptions in here (any of them
 * makes Aparapi fall back to Java instead of failing).
 */
public final class BuildTopKKernel extends Kernel {

    /** A work-group is SIDE x SIDE work items (256: the most the NVIDIA devices here allow). */
    public static final int SIDE = @SIDE@;
    /** Queries and keys per work item, each way. */
    public static final int PER = @PER@;
    /** Queries and keys per work-group tile. */
    public static final int TILE = SIDE * PER;
    /** Components per local-memory step; dimensions are zero-padded to a multiple of it. */
    public static final int DEPTH = @DEPTH@;
    /** Work items per work-group. */
    public static final int THREADS = SIDE * SIDE;
    /** Most row groups per key tile (one per work-item column). */
    public static final int MAX_SUBGROUPS = SIDE;
    /** Group maxima per query that the threshold pass keeps in local memory (more are read from global memory). */
    public static final int LOCAL_MAXIMA = 2 * DEPTH * TILE;
    /** Bisection steps of the threshold pass at most (float32 halves its interval to adjacent values within them). */
    public static final int BISECTIONS = 32;
    public static final int PASS_MAXIMA = 0;
    public static final int PASS_THRESHOLD = 1;
    public static final int PASS_COLLECT = 2;
    /** The lowest float: the maximum of a group with no row in range. */
    public static final float NEG = -3.4028235e38f;
    /** The highest float: the threshold of a padding query (no row reaches it). */
    public static final float POS = 3.4028235e38f;
    private static final int KEYS_AT = DEPTH * TILE;
    private static final int RED = SIDE + 1;

    /** Resident rows, tile-major, dimension-major inside a tile. */
    public float[] keys = new float[1];
    /** The query batch in the same layout, padded with zero queries to whole tiles. */
    public float[] queries = new float[1];
    /** Pass 0 output: {@code maxima[q * groups + g]}. */
    public float[] maxima = new float[1];
    /** Pass 1 output: each query's threshold. */
    public float[] thresholds = new float[1];
    /** Host thresholds of a refinement run ({@code POS}: the query is done). */
    public float[] refined = new float[1];
    /**
     * Pass 2 output: {@code candidates[q]} counts query q's candidates, and their store rows follow at
     * {@code candidates[batchCapacity + q * capacity + i]}.
     */
    public int[] candidates = new int[1];
    /** Pass 2 output: the score of each candidate, at {@code q * capacity + i}. */
    public float[] candidateScores = new float[1];
    /**
     * Pass 0's scores when {@code stored == 1}, for pass 2: per query tile and key tile of the grid a block of
     * {@code TILE x TILE}, key-major ({@code ((qt * keyTiles + gt) * TILE + key) * TILE + query}). Never copied.
     */
    public float[] scores = new float[1];

    /** Components per row in the layout (the dimension rounded up to DEPTH). */
    public int dimPad;
    /** Queries in the batch; the rest of the grid's query tiles is padding. */
    public int m;
    /** Queries the candidate counters have room for (the offset of the first list). */
    public int batchCapacity;
    /** Candidates kept per query. */
    public int capacity;
    /** Rows [rowLo, rowHi) of the resident rows take part; the grid's key tiles start at firstTile. */
    public int rowLo;
    public int rowHi;
    public int firstTile;
    /** Row groups per query (key tiles of the grid times subgroups) and per key tile. */
    public int groups;
    public int subgroups;
    /** Rows wanted per query, and how many more candidates the bisection may leave. */
    public int k;
    public int slack;
    /** Store row of resident row 0. */
    public int rowBase;
    /** 1: the threshold pass takes the host's thresholds. */
    public int refine;
    /** 1: pass 0 writes its scores to {@link #scores} and pass 2 reads them there instead of recomputing them. */
    public int stored;
    /** Pass of getPassId() 0. */
    public int passOffset;

    /** Both operands' slices during scoring; then the maxima reduction; in the threshold pass a query's maxima. */
    @Local
    final float[] lds = new float[LOCAL_MAXIMA];
    @Local
    final int[] ired = new int[THREADS];
    @Local
    final float[] fred = new float[THREADS];

    @Override
    public void run() {
        int pass = getPassId() + passOffset;
        int l = getLocalId(1) * SIDE + getLocalId(0);
        if (pass == PASS_THRESHOLD) {
            thresholdPass(l);
        } else {
            int work = 1;
            if (pass == PASS_COLLECT) {
                work = tileReaches(getGroupId(0), getGroupId(1), l);
            }
            if (work == 1) {
                scoreTile(pass, l);
            }
        }
    }

    private void scoreTile(int pass, int l) {
        int tq = getLocalId(0);
        int tk = getLocalId(1);
        int qt = getGroupId(0);
        int gt = getGroupId(1);
@GEMM@
@EPILOGUES@
    }

    /** Pass 0's reduction: query maxima per group of the tile, from the per-work-item maxima in lds. */
    private void writeMaxima(int qt, int gt, int l) {
        for (int o = l; o < TILE * subgroups; o += THREADS) {
            int qi = o % TILE;
            int s = o / TILE;
            float v = NEG;
            for (int x = s; x < SIDE; x += subgroups) {
                v = max(v, lds[qi * RED + x]);
            }
            maxima[(qt * TILE + qi) * groups + gt * subgroups + s] = v;
        }
    }

    private void append(int q, int id, float score) {
        int at = atomicAdd(candidates, q, 1);
        if (at < capacity) {
            candidates[batchCapacity + q * capacity + at] = id;
            candidateScores[q * capacity + at] = score;
        }
    }

    /** 1 when some group of this key tile reaches some query's threshold (uniform over the work-group). */
    private int tileReaches(int qt, int gt, int l) {
        int reach = 0;
        for (int o = l; o < TILE * subgroups; o += THREADS) {
            int q = qt * TILE + o % TILE;
            if (maxima[q * groups + gt * subgroups + o / TILE] >= thresholds[q]) {
                reach = 1;
            }
        }
        int any = reduceSum(reach, l);
        int out = 0;
        if (any > 0) {
            out = 1;
        }
        return out;
    }

    /** Pass 1: work-group w takes queries w, w + groups of the grid, ... */
    private void thresholdPass(int l) {
        int all = getNumGroups(0) * getNumGroups(1);
        int padded = getNumGroups(0) * TILE;
        for (int q = getGroupId(1) * getNumGroups(0) + getGroupId(0); q < padded; q += all) {
            float t = POS;
            if (q < m) {
                if (refine == 1) {
                    t = refined[q];
                } else {
                    t = bound(q, l);
                }
            }
            if (l == 0) {
                thresholds[q] = t;
                candidates[q] = 0;
            }
        }
    }

    /**
     * A threshold that at least k of query q's group maxima reach and, where bisection gets there, at most
     * k + slack: the highest value tried that k reach. The lowest float when fewer than k groups hold rows.
     */
    private float bound(int q, int l) {
        int base = q * groups;
        int cached = 0;
        if (groups <= LOCAL_MAXIMA) {
            cached = 1;
            for (int g = l; g < groups; g += THREADS) {
                lds[g] = maxima[base + g];
            }
        }
        localBarrier();
        float low = POS;
        float high = NEG;
        int filled = 0;
        for (int g = l; g < groups; g += THREADS) {
            float v = groupMax(cached, base, g);
            if (v > NEG) {
                low = min(low, v);
                high = max(high, v);
                filled = filled + 1;
            }
        }
        low = reduceMin(low, l);
        high = reduceMax(high, l);
        filled = reduceSum(filled, l);
        int top = reduceSum(countAtLeast(cached, base, high, l), l);
        float t = NEG;
        int open = 0;
        if (filled >= k) {
            if (top >= k) {
                t = high;
            } else {
                t = low;
                open = 1;
            }
        }
        // open is uniform over the work-group (it follows reduced values), so leaving the loop early is too.
        for (int i = 0; i < BISECTIONS && open == 1; i++) {
            float mid = t * 0.5f + high * 0.5f;
            if (mid <= t || mid >= high) {
                open = 0;
            }
            int c = 0;
            if (open == 1) {
                c = countAtLeast(cached, base, mid, l);
            }
            c = reduceSum(c, l);
            if (open == 1) {
                if (c >= k) {
                    t = mid;
                    if (c <= k + slack) {
                        open = 0;
                    }
                } else {
                    high = mid;
                }
            }
        }
        return t;
    }

    private float groupMax(int cached, int base, int g) {
        float v = 0f;
        if (cached == 1) {
            v = lds[g];
        } else {
            v = maxima[base + g];
        }
        return v;
    }

    /** This work item's share of the group maxima at or above t. */
    private int countAtLeast(int cached, int base, float t, int l) {
        int c = 0;
        for (int g = l; g < groups; g += THREADS) {
            if (groupMax(cached, base, g) >= t) {
                c = c + 1;
            }
        }
        return c;
    }

@REDUCTIONS@
}
'''

src = (TEMPLATE.replace("@SIDE@", str(SIDE)).replace("@PER@", str(PER)).replace("@DEPTH@", str(DEPTH))
       .replace("@GEMM@", "\n".join(gemm())).replace("@EPILOGUES@", "\n".join(epilogues()))
       .replace("@REDUCTIONS@", reductions()))
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
path = os.path.join(root, "src/main/java/dev/attend/gpu/internals/BuildTopKKernel.java")
with open(path, "w") as f:
    f.write(src)
print("wrote", path, file=sys.stderr)
