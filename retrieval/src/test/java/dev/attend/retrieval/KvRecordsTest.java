package dev.attend.retrieval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KvRecordsTest {

    private static final long SEED = Long.getLong("attend.test.seed", 11L);
    private static final int DIM = 8;

    private static KvSessionConfig config() {
        return KvSessionConfig.defaults(2, 2, 2, DIM).withStaticSet(2, 8);
    }

    @Test
    void recordsAreTheJournalsOwnBytesAndApplyToAnotherSessionAsTheWritesDid(@TempDir Path dir) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED);
        float[][] keys = rows(rnd, 40);
        float[][] values = rows(rnd, 40);
        float[][] queries = rows(rnd, 6);
        int[] heads = {2, 3, 2, 3, 2, 3};
        float[][] k2 = rows(rnd, 2);
        float[][] v2 = rows(rnd, 2);
        float[] key = rows(rnd, 1)[0];
        ByteArrayOutputStream records = new ByteArrayOutputStream();
        records.write(KvRecords.prefill(1, 1, 0, keys, values, queries, heads));
        records.write(KvRecords.prefill(1, 0, 0, keys, values, queries, null));
        records.write(KvRecords.appendLayer(1, 40, k2, v2));
        records.write(KvRecords.append(1, 1, 41, key, key));
        try (Scorer scorer = Scorers.create("simd");
             KvSessionStore store = new KvSessionStore(dir, scorer, Runnable::run, Runnable::run, KvDurability.FSYNC)) {
            KvSession journaled = store.create("s", config());
            journaled.prefill(1, 1, 0, keys, values, queries, heads, true);
            journaled.prefill(1, 0, 0, keys, values, queries, null, true);
            journaled.decodeLayer(1, 40, k2, v2, rows(rnd, 4), KvSession.DEFAULT_BUDGET);
            journaled.append(1, 1, 41, key, key);
            Path journal;
            try (Stream<Path> files = Files.walk(dir)) {
                journal = files.filter(f -> f.getFileName().toString().equals(KvSessionStore.JOURNAL)).findFirst().orElseThrow();
            }
            byte[] file = Files.readAllBytes(journal);
            // The file: its 8-byte header, then the same records byte for byte.
            assertThat(Arrays.copyOfRange(file, 8, file.length)).isEqualTo(records.toByteArray());

            try (KvSession copy = new KvSession("t", config(), scorer, Runnable::run)) {
                KvRecords.apply(KvRecords.prefill(1, 1, 0, keys, values, queries, heads), copy);
                KvRecords.apply(KvRecords.prefill(1, 0, 0, keys, values, queries, null), copy);
                KvRecords.apply(KvRecords.appendLayer(1, 40, k2, v2), copy);
                KvRecords.apply(KvRecords.append(1, 1, 41, key, key), copy);
                assertThat(copy.length(1, 1)).isEqualTo(42);
                assertThat(copy.length(1, 0)).isEqualTo(41);
                for (int q = 0; q < 4; q++) {
                    float[] query = rows(rnd, 1)[0];
                    assertThat(copy.attendExact(1, q, query).output()).containsExactly(journaled.attendExact(1, q, query).output(), Offset.offset(1e-5f)); // the JIT may change the last bits between calls
                }
            }
        }
    }

    @Test
    void damageIsAnIOExceptionAndARecordThatDoesNotFitIsRefusedBothChangingNothing() throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        float[] key = rows(rnd, 1)[0];
        try (Scorer scorer = Scorers.create("simd"); KvSession s = new KvSession("u", config(), scorer, Runnable::run)) {
            byte[] good = KvRecords.append(0, 0, 0, key, key);
            for (int at : new int[] {0, 4, 10, 30, good.length - 1}) {
                byte[] bad = good.clone();
                bad[at] ^= 0x21;
                assertThatThrownBy(() -> KvRecords.apply(bad, s)).as("byte %d flipped", at).isInstanceOf(IOException.class);
            }
            assertThatThrownBy(() -> KvRecords.apply(Arrays.copyOf(good, good.length - 3), s)).isInstanceOf(IOException.class);
            assertThatThrownBy(() -> KvRecords.apply(new byte[5], s)).isInstanceOf(IOException.class);
            assertThatThrownBy(() -> KvRecords.apply(KvRecords.append(0, 0, 7, key, key), s))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("out of order");
            assertThatThrownBy(() -> KvRecords.apply(KvRecords.append(0, 0, 0, new float[DIM + 1], new float[DIM + 1]), s))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThat(s.length(0, 0)).isZero();
            KvRecords.apply(good, s);
            assertThat(s.length(0, 0)).isEqualTo(1);
        }
    }

    private static float[][] rows(SplittableRandom rnd, int n) {
        float[][] out = new float[n][DIM];
        for (float[] row : out) {
            for (int i = 0; i < DIM; i++) {
                row[i] = (float) rnd.nextGaussian();
            }
        }
        return out;
    }
}
