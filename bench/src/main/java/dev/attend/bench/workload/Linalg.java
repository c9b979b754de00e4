package dev.attend.bench.workload;

import java.util.Arrays;
import java.util.SplittableRandom;

/** The few dense linear-algebra steps the generator needs, on small d x d matrices (d up to a few hundred). */
final class Linalg {

    private Linalg() {
    }

    /** Eigenvalues (descending) and unit eigenvectors (columns of {@code vectors}) of a symmetric matrix. */
    record Eigen(double[] values, double[][] vectors) {
    }

    /**
     * Cyclic Jacobi rotations on a copy of the symmetric matrix {@code a}; accurate to rounding for the
     * covariance matrices here (d <= 256 converges in well under 20 sweeps).
     */
    static Eigen symmetricEigen(double[][] a) {
        int d = a.length;
        double[][] m = new double[d][];
        for (int i = 0; i < d; i++) {
            if (a[i].length != d) {
                throw new IllegalArgumentException("matrix is not square");
            }
            m[i] = a[i].clone();
        }
        double[][] v = new double[d][d];
        for (int i = 0; i < d; i++) {
            v[i][i] = 1;
        }
        for (int sweep = 0; sweep < 100; sweep++) {
            double off = 0;
            double diag = 0;
            for (int p = 0; p < d; p++) {
                diag += m[p][p] * m[p][p];
                for (int q = p + 1; q < d; q++) {
                    off += m[p][q] * m[p][q];
                }
            }
            if (off <= 1e-30 * Math.max(diag, 1e-300)) {
                break;
            }
            for (int p = 0; p < d; p++) {
                for (int q = p + 1; q < d; q++) {
                    double apq = m[p][q];
                    if (Math.abs(apq) < 1e-300) {
                        continue;
                    }
                    double theta = (m[q][q] - m[p][p]) / (2 * apq);
                    double t = Math.signum(theta) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
                    if (theta == 0) {
                        t = 1;
                    }
                    double c = 1 / Math.sqrt(t * t + 1);
                    double s = t * c;
                    for (int k = 0; k < d; k++) {
                        double mkp = m[k][p];
                        double mkq = m[k][q];
                        m[k][p] = c * mkp - s * mkq;
                        m[k][q] = s * mkp + c * mkq;
                    }
                    for (int k = 0; k < d; k++) {
                        double mpk = m[p][k];
                        double mqk = m[q][k];
                        m[p][k] = c * mpk - s * mqk;
                        m[q][k] = s * mpk + c * mqk;
                    }
                    for (int k = 0; k < d; k++) {
                        double vkp = v[k][p];
                        double vkq = v[k][q];
                        v[k][p] = c * vkp - s * vkq;
                        v[k][q] = s * vkp + c * vkq;
                    }
                }
            }
        }
        Integer[] order = new Integer[d];
        for (int i = 0; i < d; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (x, y) -> Double.compare(m[y][y], m[x][x]));
        double[] values = new double[d];
        double[][] vectors = new double[d][d];
        for (int j = 0; j < d; j++) {
            int src = order[j];
            values[j] = m[src][src];
            // A fixed sign (largest component positive) so that the basis does not depend on rounding.
            int big = 0;
            for (int k = 1; k < d; k++) {
                if (Math.abs(v[k][src]) > Math.abs(v[big][src])) {
                    big = k;
                }
            }
            double sign = v[big][src] < 0 ? -1 : 1;
            for (int k = 0; k < d; k++) {
                vectors[k][j] = sign * v[k][src];
            }
        }
        return new Eigen(values, vectors);
    }

    /** A random d x d orthogonal matrix (Gram-Schmidt on Gaussian rows), rows orthonormal. */
    static double[][] randomRotation(int d, SplittableRandom random) {
        double[][] r = new double[d][d];
        for (int i = 0; i < d; i++) {
            while (true) {
                for (int j = 0; j < d; j++) {
                    r[i][j] = random.nextGaussian();
                }
                for (int pass = 0; pass < 2; pass++) { // twice is enough for orthogonality to rounding
                    for (int k = 0; k < i; k++) {
                        double dot = dot(r[i], r[k]);
                        for (int j = 0; j < d; j++) {
                            r[i][j] -= dot * r[k][j];
                        }
                    }
                }
                double norm = Math.sqrt(dot(r[i], r[i]));
                if (norm > 1e-6) {
                    for (int j = 0; j < d; j++) {
                        r[i][j] /= norm;
                    }
                    break;
                }
            }
        }
        return r;
    }

    /** Lower-triangular L with L L^T = a (a symmetric positive definite), or null when it is not. */
    static double[][] cholesky(double[][] a) {
        int d = a.length;
        double[][] l = new double[d][d];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j <= i; j++) {
                double s = a[i][j];
                for (int k = 0; k < j; k++) {
                    s -= l[i][k] * l[j][k];
                }
                if (i == j) {
                    if (!(s > 1e-12 * Math.max(1, Math.abs(a[i][i])))) {
                        return null;
                    }
                    l[i][i] = Math.sqrt(s);
                } else {
                    l[i][j] = s / l[j][j];
                }
            }
        }
        return l;
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }
}
