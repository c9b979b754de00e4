package dev.attend.gpu;

/**
 * Dense block of scores: {@code scores[i * cols + j]} = query i . key (from + j).
 *
 * @param rows   number of queries
 * @param cols   number of keys scored
 * @param device where the scores were computed
 */
public record ScoreMatrix(float[] scores, int rows, int cols, Device device) {

    public float get(int row, int col) {
        return scores[row * cols + col];
    }
}
