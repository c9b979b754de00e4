package dev.attend.retrieval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.Test;

/** A session's writes through a {@link KvWriteLog}: logged before they apply, refused whole when the log fails. */
class KvWriteLogTest {

    private static final Executor INLINE = Runnable::run;
    private static final int DIM = 8;

    /** A log that keeps what it acknowledges and fails as told. */
    private static final class Log implements KvWriteLog {
        final List<byte[]> records = new ArrayList<>();
        IOException next;

        @Override
        public void write(byte[] record) throws IOException {
            IOException e = next;
            if (e != null) {
                throw e;
            }
            records.add(record);
        }

        @Override
        public void close() {
        }
    }

    @Test
    void everyWriteIsLoggedAsTheRecordThatReplaysItAndAnUncertainOneFencesTheSession() throws Exception {
        SplittableRandom rnd = new SplittableRandom(7);
        KvSessionConfig config = KvSessionConfig.defaults(2, 2, 2, DIM).withStaticSet(2, 8);
        try (Scorer scorer = Scorers.create("simd");
             KvSession s = new KvSession("a", config, scorer, INLINE);
             KvSession replayed = new KvSession("a", config, scorer, INLINE)) {
            Log log = new Log();
            s.attachLog(log);
            assertThatThrownBy(() -> s.attachLog(new Log())).isInstanceOf(IllegalStateException.class);
            float[][] keys = rows(rnd, 20);
            s.prefill(0, 1, 0, keys, keys, rows(rnd, 3));
            s.decodeLayer(1, 0, rows(rnd, 2), rows(rnd, 2), rows(rnd, 4), KvSession.DEFAULT_BUDGET);
            assertThat(log.records).hasSize(2);
            for (byte[] r : log.records) {
                KvRecords.apply(r, replayed);
            }
            assertThat(replayed.length(0, 1)).isEqualTo(20);
            assertThat(replayed.length(1, 0)).isEqualTo(1);

            // A log that refuses: nothing changes, the session takes the write again later.
            log.next = new IOException("Input/output error");
            long charged = s.chargedBytes();
            float[] k = rows(rnd, 1)[0];
            assertThatThrownBy(() -> s.append(0, 1, 20, k, k)).isInstanceOf(UncheckedIOException.class);
            assertThat(s.length(0, 1)).isEqualTo(20);
            assertThat(s.chargedBytes()).isEqualTo(charged);
            assertThat(s.fenced()).isNull();

            // A write of unknown outcome: nothing changes here, and the session refuses every write until it is rebuilt.
            log.next = new KvWriteUncertainException("no acknowledgement within 30 s", null);
            assertThatThrownBy(() -> s.append(0, 1, 20, k, k)).isInstanceOf(UncheckedIOException.class)
                    .hasCauseInstanceOf(KvWriteUncertainException.class);
            assertThat(s.fenced()).contains("unknown");
            log.next = null;
            assertThatThrownBy(() -> s.append(0, 1, 20, k, k)).isInstanceOf(KvSessionFencedException.class);
            assertThatThrownBy(() -> s.decodeLayer(1, 1, rows(rnd, 2), rows(rnd, 2), rows(rnd, 4), KvSession.DEFAULT_BUDGET))
                    .isInstanceOf(KvSessionFencedException.class);
            assertThat(s.length(0, 1)).isEqualTo(20);
            assertThat(s.length(1, 0)).isEqualTo(1);
            assertThat(s.chargedBytes()).isEqualTo(charged);
            assertThat(log.records).hasSize(2);
            // Reads still answer over what it holds.
            assertThat(s.attendExact(0, 2, rows(rnd, 1)[0]).output()).hasSize(DIM);
        }
    }

    private static float[][] rows(SplittableRandom rnd, int n) {
        float[][] out = new float[n][DIM];
        for (float[] r : out) {
            for (int i = 0; i < DIM; i++) {
                r[i] = (float) rnd.nextGaussian();
            }
        }
        return out;
    }
}
