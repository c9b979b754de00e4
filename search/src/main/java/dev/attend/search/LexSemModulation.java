package dev.attend.search;

import dev.attend.gpu.Simd;
import dev.attend.gpu.VectorMath;
import dev.attend.index.store.CorruptFileException;
import dev.attend.index.store.DurableFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * LexSemBridge query modulation (2025): sharpens a dense query embedding with the query's own tokens, for
 * fine-grained queries (keywords, a part of a passage), without touching the document index.
 *
 * <p>From the query's tokens {@code t} with weights {@code w_t} (1 for presence, the SLR token vector, or an IDF)
 * it computes {@code z = b + sum_t w_t W[t]}, the modulation {@code v = softmax(z)} over the {@code dim} embedding
 * dimensions, and the modulated query {@code q' = normalise(v ⊙ e_q)}. Documents stay as they are (unit
 * vectors), and search is the usual dot product / cosine with {@code q'}.
 *
 * <p>Give {@link #modulate} the same kind of token weights the modulation was trained with (all 1, or the same IDF
 * table): {@code z} scales with them. The tokens are the encoder tokenizer's ids of the query, each once, special
 * tokens left out. The index's document vectors must be unit vectors, as in training.
 *
 * <p>{@code W} is stored token-major, {@code W[t]} = {@code w[t * dim, (t + 1) * dim)}, so a query reads only its
 * own tokens' rows (and training updates only those rows). A new modulation has {@code W = 0} and {@code b = 0}:
 * then {@code v} is uniform ({@code 1/dim} everywhere) and {@code q' = normalise(e_q)} whatever the tokens, so the
 * untrained modulation is exactly plain dense retrieval. {@link ModulationTrainer} learns {@code W} and {@code b}.
 *
 * <p>The per-dimension loops (the accumulation of {@code z} over the tokens' rows, the softmax exponentials, the
 * element-wise products) run on the Vector API with scalar tails. Only IEEE-exact lane operations are used (add,
 * multiply, fused multiply-add, divide, max, conversions; the exponential is a polynomial of those), and sums
 * over the lanes are taken in a fixed order: an input gives the same bits whether the JIT has compiled the code
 * or not, which keeps training reproducible (the Vector API's own {@code EXP} and {@code reduceLanes(ADD)} differ
 * between the interpreter and compiled code).
 *
 * <p><b>Learned token weights (LLR)</b>, optional ({@link #withLearnedWeights}): each token {@code t} also has a
 * vector {@code U[t]} and a bias {@code c[t]}, and its weight in {@code z} becomes {@code w_t * l_t(e_q)} with
 * {@code l_t(e_q) = log(1 + relu(e_q . U[t] + c[t]))}: the paper's learned lexical representation, read at the
 * query's own tokens, so that how much a token steers the query depends on what the query is about (a common word
 * inside a long span can fade, the same word as a keyword can stay). It starts at {@code U = 0},
 * {@code c = e - 1}: {@code l = 1}, exactly the presence (SLR) modulation, and {@link ModulationTrainer} learns
 * {@code U} and {@code c} with {@code W} and {@code b} (their rows, too, only for the tokens of a batch).
 *
 * <p>{@link #modulate} only reads the parameters: any number of threads may call it, as long as no
 * {@link ModulationTrainer#train training} of this instance runs at the same time.
 *
 * <p>File format ({@link #save}, {@link #load}): a {@link DurableFile} of codec {@value #CODEC} (a header with its
 * version, a CRC32C footer over the whole file, checked before a byte is parsed: a damaged file is a
 * {@link CorruptFileException}, never other parameters) whose payload is the unframed format the previous builds
 * wrote, and which {@link #load} still reads: little-endian, the ASCII magic {@code "LXSM"}, the format version
 * (int: 1 without learned token weights, 2 with them), vocabulary (int), dim (int), then {@code W}
 * ({@code vocabulary * dim} floats, token-major) and {@code b} ({@code dim} floats); in version 2 then {@code U}
 * ({@code vocabulary * dim} floats, token-major) and {@code c} ({@code vocabulary} floats); nothing after.
 */
public final class LexSemModulation {

    static final VectorSpecies<Float> SPECIES = Simd.FLOATS;
    private static final int LANES = SPECIES.length();

    /** {@code "LXSM"} read as a little-endian int. */
    static final int MAGIC = 0x4D53584C;
    static final int FORMAT_VERSION = 1;
    /** The format of a modulation with learned token weights (U and c after W and b). */
    static final int FORMAT_VERSION_LEARNED = 2;
    /** {@code c}'s start: {@code log(1 + (e - 1)) = 1}, every token's learned weight 1. */
    static final float LEARNED_START = (float) (Math.E - 1);
    static final int HEADER_BYTES = 16;
    /** The codec name of the framed file. */
    static final String CODEC = "attend-lexsem-modulation";
    /** The framed file's version (its payload carries the unframed format's own version). */
    static final int FRAMED_VERSION = 1;
    /** The largest float array the JVM hands out, with some margin. */
    private static final long MAX_ARRAY = Integer.MAX_VALUE - 16;

    private final int vocabulary;
    private final int dim;
    /** {@code W}, token-major: row t at {@code [t * dim, (t + 1) * dim)}. */
    final float[] w;
    /** {@code b}. */
    final float[] b;
    /** LLR's {@code U}, token-major like {@code W}; null without learned token weights. */
    final float[] u;
    /** LLR's {@code c}, one per token; null without learned token weights. */
    final float[] c;

    /**
     * A modulation for token ids in {@code [0, vocabulary)} and embeddings of {@code dim} dimensions, with
     * {@code W = 0} and {@code b = 0}: {@link #modulate} then returns {@code normalise(query)}, plain dense retrieval.
     */
    public LexSemModulation(int vocabulary, int dim) {
        this(vocabulary, dim, false);
    }

    /**
     * A modulation with learned token weights (LLR): {@code W = 0}, {@code b = 0}, {@code U = 0} and every
     * {@code c[t] = e - 1}, so every learned weight starts at 1 and {@link #modulate} at plain dense retrieval.
     */
    public static LexSemModulation withLearnedWeights(int vocabulary, int dim) {
        return new LexSemModulation(vocabulary, dim, true);
    }

    private LexSemModulation(int vocabulary, int dim, boolean learnedWeights) {
        if (vocabulary <= 0) {
            throw new IllegalArgumentException("vocabulary must be positive, got " + vocabulary);
        }
        if (dim <= 0) {
            throw new IllegalArgumentException("dim must be positive, got " + dim);
        }
        if ((long) vocabulary * dim > MAX_ARRAY) {
            throw new IllegalArgumentException("vocabulary * dim = " + (long) vocabulary * dim + " exceeds the largest float array ("
                    + MAX_ARRAY + ")");
        }
        this.vocabulary = vocabulary;
        this.dim = dim;
        this.w = new float[vocabulary * dim];
        this.b = new float[dim];
        this.u = learnedWeights ? new float[vocabulary * dim] : null;
        this.c = learnedWeights ? new float[vocabulary] : null;
        if (learnedWeights) {
            java.util.Arrays.fill(c, LEARNED_START);
        }
    }

    /** Whether the tokens' weights are learned (LLR) rather than taken as given. */
    public boolean learnsWeights() {
        return u != null;
    }

    /**
     * The weights {@code z} sums the tokens' rows with: {@code weights} as given, or with learned token weights
     * {@code weights[i] * log(1 + relu(query . U[t_i] + c[t_i]))}. {@code pre}, when not null, receives each token's
     * {@code query . U[t] + c[t]} (the trainer's backward pass needs it).
     */
    float[] tokenWeights(int[] tokens, float[] weights, float[] query, float[] pre) {
        if (u == null) {
            return weights;
        }
        float[] out = new float[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            float a = (float) (VectorMath.dotOrdered(query, 0, u, tokens[i] * dim, dim) + c[tokens[i]]);
            if (pre != null) {
                pre[i] = a;
            }
            out[i] = weights[i] * (float) Math.log1p(Math.max(0f, a));
        }
        return out;
    }

    /** Token ids are in {@code [0, vocabulary())}. */
    public int vocabulary() {
        return vocabulary;
    }

    /** The embedding dimension. */
    public int dim() {
        return dim;
    }

    /**
     * The modulated query {@code normalise(softmax(b + sum_t weights[t] W[tokens[t]]) ⊙ query)}, a new unit vector.
     *
     * @param tokens the query's token ids, each in {@code [0, vocabulary())}; distinct ids are expected (an id
     *     given twice counts with the sum of its weights); may be empty ({@code z = b})
     * @param weights one finite weight per token: 1 for token presence, or the token's IDF
     * @param query the dense query embedding {@code e_q}, {@code dim()} finite values, not all zero (need not be
     *     unit: only its direction matters, except to learned token weights, which read it as given: give them
     *     what they were trained on, the encoder's unit vectors)
     * @throws IllegalArgumentException on lengths that disagree, a token out of range, a NaN or infinite weight or
     *     query component, or a zero query
     */
    public float[] modulate(int[] tokens, float[] weights, float[] query) {
        String error = check(tokens, weights, query);
        if (error != null) {
            throw new IllegalArgumentException(error);
        }
        float[] v = new float[dim];
        float[] out = new float[dim];
        forward(tokens, tokenWeights(tokens, weights, query, null), query, v, out);
        return out;
    }

    /**
     * Why {@code (tokens, weights, query)} is not a valid input of {@link #modulate}, or null when it is. The
     * trainer checks its pairs with it too.
     */
    String check(int[] tokens, float[] weights, float[] query) {
        Objects.requireNonNull(tokens, "tokens");
        Objects.requireNonNull(weights, "weights");
        Objects.requireNonNull(query, "query");
        if (tokens.length != weights.length) {
            return "tokens and weights differ in length: " + tokens.length + " tokens, " + weights.length + " weights";
        }
        if (query.length != dim) {
            return "query has " + query.length + " dimensions; this modulation has dim " + dim;
        }
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= vocabulary) {
                return "token " + tokens[i] + " at position " + i + " is outside the vocabulary [0, " + vocabulary + ")";
            }
            if (!Float.isFinite(weights[i])) {
                return "weight " + weights[i] + " at position " + i + " (token " + tokens[i] + ") is not finite";
            }
        }
        boolean nonZero = false;
        for (int k = 0; k < dim; k++) {
            if (!Float.isFinite(query[k])) {
                return "query component " + k + " is " + query[k] + ", not finite";
            }
            nonZero |= query[k] != 0;
        }
        if (!nonZero) {
            return "query is the zero vector";
        }
        return null;
    }

    /**
     * The forward pass on checked input: {@code v} gets {@code softmax(z)}, {@code out} gets {@code q' = u / |u|}
     * with {@code u = v ⊙ query}; returns {@code |u|}. {@link ModulationTrainer} backpropagates through it.
     *
     * @throws IllegalStateException if {@code u} vanishes (only with diverged parameters: some component of
     *     {@code v} is at least {@code e^-87} of the largest)
     */
    float forward(int[] tokens, float[] weights, float[] query, float[] v, float[] out) {
        int d = dim;
        int n = tokens.length;
        int[] rows = new int[n];
        for (int i = 0; i < n; i++) {
            rows[i] = tokens[i] * d;
        }
        // z = b + sum_t w_t W[t], into v; each chunk of z stays in a register across the tokens' rows
        int c = 0;
        for (; c + 2 * LANES <= d; c += 2 * LANES) {
            FloatVector a0 = FloatVector.fromArray(SPECIES, b, c);
            FloatVector a1 = FloatVector.fromArray(SPECIES, b, c + LANES);
            for (int i = 0; i < n; i++) {
                FloatVector x = FloatVector.broadcast(SPECIES, weights[i]);
                a0 = x.fma(FloatVector.fromArray(SPECIES, w, rows[i] + c), a0);
                a1 = x.fma(FloatVector.fromArray(SPECIES, w, rows[i] + c + LANES), a1);
            }
            a0.intoArray(v, c);
            a1.intoArray(v, c + LANES);
        }
        for (; c + LANES <= d; c += LANES) {
            FloatVector a0 = FloatVector.fromArray(SPECIES, b, c);
            for (int i = 0; i < n; i++) {
                a0 = FloatVector.broadcast(SPECIES, weights[i]).fma(FloatVector.fromArray(SPECIES, w, rows[i] + c), a0);
            }
            a0.intoArray(v, c);
        }
        for (; c < d; c++) {
            float a = b[c];
            for (int i = 0; i < n; i++) {
                a = Math.fma(weights[i], w[rows[i] + c], a);
            }
            v[c] = a;
        }
        // v = softmax(z)
        float max = max(v, d);
        float sum = (float) expShifted(v, max, d);
        // v /= sum; u = v ⊙ query into out; |u|^2
        FloatVector s = FloatVector.broadcast(SPECIES, sum);
        FloatVector acc = FloatVector.zero(SPECIES);
        int k = 0;
        for (; k + LANES <= d; k += LANES) {
            FloatVector vk = FloatVector.fromArray(SPECIES, v, k).div(s);
            vk.intoArray(v, k);
            FloatVector u = vk.mul(FloatVector.fromArray(SPECIES, query, k));
            u.intoArray(out, k);
            acc = u.fma(u, acc);
        }
        double sq = VectorMath.sumInLaneOrder(acc);
        for (; k < d; k++) {
            v[k] = v[k] / sum;
            float u = v[k] * query[k];
            out[k] = u;
            sq += (double) u * u;
        }
        float norm = (float) Math.sqrt(sq);
        if (!(norm > 0) || !Float.isFinite(norm)) {
            throw new IllegalStateException("the modulated query vanished (|v ⊙ e_q| = " + norm + "): diverged parameters?");
        }
        scale(out, 1 / norm, d);
        return norm;
    }

    // ---- kernels, shared with the trainer ----

    /** max of {@code a[0, n)}. */
    static float max(float[] a, int n) {
        int k = 0;
        float m = Float.NEGATIVE_INFINITY;
        if (n >= LANES) {
            FloatVector mv = FloatVector.fromArray(SPECIES, a, 0);
            for (k = LANES; k + LANES <= n; k += LANES) {
                mv = mv.max(FloatVector.fromArray(SPECIES, a, k));
            }
            m = mv.reduceLanes(VectorOperators.MAX); // order-free: exact
        }
        for (; k < n; k++) {
            m = Math.max(m, a[k]);
        }
        return m;
    }

    /** {@code a[k] = exp(a[k] - shift)} for {@code k < n} ({@code shift} at least every {@code a[k]}); returns their sum. */
    static double expShifted(float[] a, float shift, int n) {
        FloatVector sv = FloatVector.broadcast(SPECIES, shift);
        FloatVector acc = FloatVector.zero(SPECIES);
        int k = 0;
        for (; k + LANES <= n; k += LANES) {
            FloatVector e = expNonPositive(FloatVector.fromArray(SPECIES, a, k).sub(sv));
            e.intoArray(a, k);
            acc = acc.add(e);
        }
        double sum = VectorMath.sumInLaneOrder(acc);
        for (; k < n; k++) {
            a[k] = expNonPositive(a[k] - shift);
            sum += a[k];
        }
        return sum;
    }

    private static final float EXP_LO = -87.33654f; // ln(Float.MIN_NORMAL): below, the result is clamped there
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f; // few bits: n * LN2_HI is exact
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float P0 = 1.9875691500e-4f;
    private static final float P1 = 1.3981999507e-3f;
    private static final float P2 = 8.3334519073e-3f;
    private static final float P3 = 4.1665795894e-2f;
    private static final float P4 = 1.6666665459e-1f;
    private static final float P5 = 5.0000001201e-1f;

    /**
     * {@code e^x} for {@code x <= 0} (Cephes' expf: {@code x = n ln 2 + r}, a degree-7 polynomial in {@code r}, times
     * {@code 2^n}), within a few ulp; below {@code ln(Float.MIN_NORMAL)} it returns about {@code Float.MIN_NORMAL}
     * rather than a subnormal or zero. Only exact lane operations, so the interpreter and compiled code agree.
     */
    static FloatVector expNonPositive(FloatVector x) {
        FloatVector xc = x.max(EXP_LO);
        FloatVector nf = (FloatVector) xc.mul(LOG2E).sub(0.5f).convert(VectorOperators.F2I, 0).convert(VectorOperators.I2F, 0);
        FloatVector r = nf.fma(FloatVector.broadcast(SPECIES, -LN2_HI), xc);
        r = nf.fma(FloatVector.broadcast(SPECIES, -LN2_LO), r);
        FloatVector p = r.fma(FloatVector.broadcast(SPECIES, P0), FloatVector.broadcast(SPECIES, P1));
        p = p.fma(r, FloatVector.broadcast(SPECIES, P2));
        p = p.fma(r, FloatVector.broadcast(SPECIES, P3));
        p = p.fma(r, FloatVector.broadcast(SPECIES, P4));
        p = p.fma(r, FloatVector.broadcast(SPECIES, P5));
        p = p.fma(r.mul(r), r).add(1f);
        IntVector n = (IntVector) nf.convert(VectorOperators.F2I, 0);
        FloatVector pow2n = n.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return p.mul(pow2n);
    }

    /** The scalar {@link #expNonPositive(FloatVector)}, operation for operation. */
    static float expNonPositive(float x) {
        float xc = Math.max(x, EXP_LO);
        float nf = (float) (int) (xc * LOG2E - 0.5f);
        float r = Math.fma(nf, -LN2_HI, xc);
        r = Math.fma(nf, -LN2_LO, r);
        float p = Math.fma(r, P0, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        p = Math.fma(p, r * r, r) + 1f;
        return p * Float.intBitsToFloat(((int) nf + 127) << 23);
    }




    /** {@code a[0, n) *= f}. */
    static void scale(float[] a, float f, int n) {
        int k = 0;
        for (; k + LANES <= n; k += LANES) {
            FloatVector.fromArray(SPECIES, a, k).mul(f).intoArray(a, k);
        }
        for (; k < n; k++) {
            a[k] *= f;
        }
    }


    // ---- persistence ----

    /**
     * Writes the parameters to {@code file}, checksummed ({@link DurableFile}): to a temporary file in the same
     * directory, forced to the device, then atomically renamed over {@code file}, so a crash leaves either the old
     * file or the new one.
     */
    public void save(Path file) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        DurableFile.write(file, CODEC, FRAMED_VERSION, out -> {
            ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            buf.putInt(MAGIC).putInt(u == null ? FORMAT_VERSION : FORMAT_VERSION_LEARNED).putInt(vocabulary).putInt(dim);
            java.io.DataOutputStream o = out;
            FloatSink sink = b -> o.write(b.array(), 0, b.position());
            writeFloats(sink, buf, w);
            writeFloats(sink, buf, b);
            if (u != null) {
                writeFloats(sink, buf, u);
                writeFloats(sink, buf, c);
            }
            sink.flush(buf);
        });
    }

    /** Writes the unframed format of the previous builds (no checksum): what tests of reading old files need. */
    void saveUnframed(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            buf.putInt(MAGIC).putInt(u == null ? FORMAT_VERSION : FORMAT_VERSION_LEARNED).putInt(vocabulary).putInt(dim);
            FloatSink sink = full -> {
                full.flip();
                while (full.hasRemaining()) {
                    ch.write(full);
                }
                full.position(full.limit()); // what flush clears
            };
            writeFloats(sink, buf, w);
            writeFloats(sink, buf, b);
            if (u != null) {
                writeFloats(sink, buf, u);
                writeFloats(sink, buf, c);
            }
            sink.flush(buf);
        }
    }

    /** Takes a buffer's bytes {@code [0, position)}. */
    @FunctionalInterface
    private interface FloatSink {
        void take(ByteBuffer buf) throws IOException;

        default void flush(ByteBuffer buf) throws IOException {
            take(buf);
            buf.clear();
        }
    }

    private static void writeFloats(FloatSink sink, ByteBuffer buf, float[] a) throws IOException {
        int i = 0;
        while (i < a.length) {
            int n = Math.min(a.length - i, buf.remaining() / Float.BYTES);
            if (n == 0) {
                sink.flush(buf);
                continue;
            }
            buf.asFloatBuffer().put(a, i, n);
            buf.position(buf.position() + n * Float.BYTES);
            i += n;
        }
    }

    /**
     * Reads a modulation that {@link #save} wrote.
     *
     * @throws IOException naming the file, when it cannot be read, is not a modulation file (magic), has another
     *     format version, has impossible sizes, is truncated or longer than its sizes say, or holds a NaN or
     *     infinite parameter
     */
    public static LexSemModulation load(Path file) throws IOException {
        if (DurableFile.isFramed(file)) {
            long payload;
            try (DurableFile.Reader r = DurableFile.open(file, CODEC, FRAMED_VERSION, FRAMED_VERSION)) {
                payload = r.payloadBytes();
            }
            long footer = 4 + 8 + 4;
            return read(file, Files.size(file) - footer - payload, payload);
        }
        return read(file, 0, Files.size(file));
    }

    /** Parses the unframed format from the {@code size} bytes of {@code file} at {@code offset}. */
    private static LexSemModulation read(Path file, long offset, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ch.position(offset);
            ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, header, file, size);
            header.flip();
            int magic = header.getInt();
            if (magic != MAGIC) {
                throw new CorruptFileException(file, "not a LexSemBridge modulation file (magic 0x" + Integer.toHexString(magic)
                        + ", expected 0x" + Integer.toHexString(MAGIC) + ")");
            }
            int version = header.getInt();
            if (version != FORMAT_VERSION && version != FORMAT_VERSION_LEARNED) {
                throw new CorruptFileException(file, "format version " + version + "; this build reads versions " + FORMAT_VERSION + " and "
                        + FORMAT_VERSION_LEARNED);
            }
            boolean learned = version == FORMAT_VERSION_LEARNED;
            int vocabulary = header.getInt();
            int dim = header.getInt();
            if (vocabulary <= 0 || dim <= 0 || (long) vocabulary * dim > MAX_ARRAY) {
                throw new CorruptFileException(file, "impossible sizes vocabulary " + vocabulary + ", dim " + dim);
            }
            long expected = HEADER_BYTES + ((long) vocabulary * dim + dim) * Float.BYTES
                    + (learned ? ((long) vocabulary * dim + vocabulary) * Float.BYTES : 0);
            if (size < expected) {
                throw new CorruptFileException(file, "truncated: " + size + " bytes, a modulation of vocabulary " + vocabulary + " and dim "
                        + dim + " takes " + expected);
            }
            if (size > expected) {
                throw new CorruptFileException(file, (size - expected) + " bytes after the parameters (vocabulary " + vocabulary
                        + ", dim " + dim + ")");
            }
            LexSemModulation m = new LexSemModulation(vocabulary, dim, learned);
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
            readFloats(ch, buf, m.w, file, size);
            readFloats(ch, buf, m.b, file, size);
            if (learned) {
                readFloats(ch, buf, m.u, file, size);
                readFloats(ch, buf, m.c, file, size);
            }
            requireFinite(file, "W", m.w, dim);
            requireFinite(file, "b", m.b, 0);
            if (learned) {
                requireFinite(file, "U", m.u, dim);
                requireFinite(file, "c", m.c, 0);
            }
            return m;
        }
    }

    /**
     * Refuses a NaN or infinite parameter, naming it: {@code name[row][column]} for a matrix of rows of
     * {@code rowLength}, {@code name[i]} for a vector ({@code rowLength} 0).
     */
    private static void requireFinite(Path file, String name, float[] a, int rowLength) throws IOException {
        for (int i = 0; i < a.length; i++) {
            if (!Float.isFinite(a[i])) {
                throw new CorruptFileException(file, name + (rowLength > 0 ? "[" + i / rowLength + "][" + i % rowLength + "]" : "[" + i + "]")
                        + " is " + a[i]);
            }
        }
    }

    private static void readFloats(FileChannel ch, ByteBuffer buf, float[] a, Path file, long size) throws IOException {
        int i = 0;
        while (i < a.length) {
            buf.clear();
            buf.limit((int) Math.min(buf.capacity(), (long) (a.length - i) * Float.BYTES));
            readFully(ch, buf, file, size);
            buf.flip();
            int n = buf.remaining() / Float.BYTES;
            buf.asFloatBuffer().get(a, i, n);
            i += n;
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, Path file, long size) throws IOException {
        while (buf.hasRemaining()) {
            if (ch.read(buf) < 0) {
                throw new CorruptFileException(file, "truncated at byte " + ch.position() + " of " + size);
            }
        }
    }
}
