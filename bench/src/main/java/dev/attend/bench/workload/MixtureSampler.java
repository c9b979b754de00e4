package dev.attend.bench.workload;

import dev.attend.gpu.Precision;
import dev.attend.gpu.VectorStore;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * One distribution of {@link OodWorkloadGenerator}'s model: {@code magnitude * R (mean + sd * (a * centre_j + b * noise))},
 * a Gaussian mixture in the key principal basis, rotated. Rows come in chunks of {@link VectorStore#CHUNK_ROWS}, each
 * from its own {@link SplittableRandom} seeded by (seed, stream, chunk), so the same arguments give the same rows on any
 * number of threads.
 */
final class MixtureSampler {

    /** Random streams: one per kind of row, and those of the model's structure. */
    static final int KEYS = 1;
    static final int TRAINING = 2;
    static final int TEST = 3;
    static final int HELD_OUT = 4;
    static final int KEY_CENTRES = 5;
    static final int QUERY_CENTRES = 6;
    static final int ROTATION = 7;

    final int dim;
    final double[] mean;
    final double[] sd;
    final double[] centres; // clusters x dim, unit covariance
    final int clusters;
    final double a;
    final double b;
    final double[][] rotation; // null: none
    final double magnitude;

    MixtureSampler(double[] mean, double[] variance, double[] centres, int clusters, double clustering, double[][] rotation,
            double magnitude) {
        this.dim = mean.length;
        this.mean = mean;
        this.sd = Arrays.stream(variance).map(Math::sqrt).toArray();
        this.centres = centres;
        this.clusters = clusters;
        this.a = Math.sqrt(clustering);
        this.b = Math.sqrt(1 - clustering);
        this.rotation = rotation;
        this.magnitude = magnitude;
    }

    static MixtureSampler keys(OodParameters p, double[][] rotation) {
        return new MixtureSampler(p.keyMean(), p.keyVariance(),
                centres(p.clusters(), p.dim(), mix(p.structureSeed(), KEY_CENTRES, 0)),
                p.clusters(), p.keyClustering(), rotation, p.magnitude());
    }

    static MixtureSampler queries(OodParameters p, double[][] rotation, double[] mean) {
        return new MixtureSampler(mean, p.queryVariance(),
                centres(p.clusters(), p.dim(), mix(p.structureSeed(), QUERY_CENTRES, 0)),
                p.clusters(), p.queryClustering(), rotation, p.magnitude());
    }

    /** Fills rows [0, count) of {@code out} (row-major). */
    void fill(SplittableRandom random, float[] out, int count) {
        double[] x = new double[dim];
        for (int r = 0; r < count; r++) {
            int c = clusters == 1 ? 0 : random.nextInt(clusters);
            int cb = c * dim;
            for (int i = 0; i < dim; i++) {
                double z = a * centres[cb + i] + b * random.nextGaussian();
                x[i] = mean[i] + sd[i] * z;
            }
            int o = r * dim;
            if (rotation == null) {
                for (int i = 0; i < dim; i++) {
                    out[o + i] = (float) (magnitude * x[i]);
                }
            } else {
                for (int i = 0; i < dim; i++) {
                    double[] ri = rotation[i];
                    double s = 0;
                    for (int j = 0; j < dim; j++) {
                        s += ri[j] * x[j];
                    }
                    out[o + i] = (float) (magnitude * s);
                }
            }
        }
    }

    private float[] chunk(int index, int count, long seed, int stream) {
        float[] buf = new float[count * dim];
        fill(new SplittableRandom(mix(seed, stream, index)), buf, count);
        return buf;
    }

    /** {@code rows} rows into a new store: chunks made in parallel waves, appended in order. */
    VectorStore store(int rows, long seed, int stream, Precision precision) {
        VectorStore store = new VectorStore(dim, precision);
        int chunkRows = VectorStore.CHUNK_ROWS;
        int chunks = (rows + chunkRows - 1) / chunkRows;
        int wave = Math.max(2, 2 * Runtime.getRuntime().availableProcessors());
        for (int w = 0; w < chunks; w += wave) {
            int first = w;
            float[][] made = IntStream.range(first, Math.min(chunks, first + wave)).parallel()
                    .mapToObj(c -> chunk(c, Math.min(chunkRows, rows - c * chunkRows), seed, stream))
                    .toArray(float[][]::new);
            for (float[] buf : made) {
                store.appendRows(buf, 0, buf.length / dim);
            }
        }
        return store;
    }

    float[][] rows(int rows, long seed, int stream) {
        VectorStore s = store(rows, seed, stream, Precision.FLOAT32);
        float[][] out = new float[rows][];
        for (int i = 0; i < rows; i++) {
            out[i] = s.row(i);
        }
        return out;
    }

    /** SplitMix64 of (seed, stream, chunk): independent, reproducible random streams per chunk. */
    static long mix(long seed, int stream, long chunk) {
        long z = seed * 0x9E3779B97F4A7C15L + stream * 0xBF58476D1CE4E5B9L + chunk * 0x94D049BB133111EBL + 0x632BE59BD9B4E019L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** {@code clusters} Gaussian centres with mean 0 and (when clusters > dim) exactly unit covariance. */
    static double[] centres(int clusters, int dim, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        double[][] c = new double[clusters][dim];
        for (double[] row : c) {
            for (int j = 0; j < dim; j++) {
                row[j] = random.nextGaussian();
            }
        }
        if (clusters == 1) {
            return new double[dim]; // one component: its centre is the mean
        }
        double[] mean = new double[dim];
        for (double[] row : c) {
            for (int j = 0; j < dim; j++) {
                mean[j] += row[j] / clusters;
            }
        }
        double[][] cov = new double[dim][dim];
        for (double[] row : c) {
            for (int j = 0; j < dim; j++) {
                row[j] -= mean[j];
            }
            for (int j = 0; j < dim; j++) {
                for (int l = 0; l < dim; l++) {
                    cov[j][l] += row[j] * row[l] / clusters;
                }
            }
        }
        double[][] chol = clusters > dim ? Linalg.cholesky(cov) : null;
        double[] out = new double[clusters * dim];
        for (int k = 0; k < clusters; k++) {
            double[] row = c[k];
            if (chol != null) { // solve L y = row: y has unit covariance over the centres
                for (int i = 0; i < dim; i++) {
                    double s = row[i];
                    for (int j = 0; j < i; j++) {
                        s -= chol[i][j] * out[k * dim + j];
                    }
                    out[k * dim + i] = s / chol[i][i];
                }
            } else { // too few centres to whiten: unit variance per component
                for (int i = 0; i < dim; i++) {
                    out[k * dim + i] = row[i] / Math.sqrt(Math.max(cov[i][i], 1e-12));
                }
            }
        }
        return out;
    }
}
