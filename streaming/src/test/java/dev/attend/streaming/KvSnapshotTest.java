package dev.attend.streaming;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.index.store.CorruptFileException;
import dev.attend.retrieval.KvRecords;
import dev.attend.retrieval.KvSession;
import dev.attend.retrieval.KvSessionConfig;
import dev.attend.retrieval.internals.KvJournal;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import java.util.concurrent.Executor;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A partition's local snapshot files on their own: a manifest written at a checkpoint names each journal and the bytes
 * it covers, journal bytes after those are cut when loaded, a session id from the topic that does not name a file stops
 * the snapshots without writing anywhere, and a damaged manifest is a {@link CorruptFileException}.
 */
class KvSnapshotTest {

    private static final Executor INLINE = Runnable::run;
    private static final long SEED = Long.getLong("attend.test.seed", 2727L);

    @Test
    void aCheckpointCoversWhatWasJournaledAndLaterBytesAreCutWhenLoaded(@TempDir Path dir) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED);
        KvSessionConfig config = KvSessionConfig.defaults(1, 1, 1, 8);
        try (Scorer scorer = Scorers.create("simd")) {
            KvSnapshot snapshot = KvSnapshot.start(dir, "topic-id", 3, null);
            long[] offset = {100};
            snapshot.created("a", config, () -> ++offset[0]);
            KvJournal j = snapshot.journalOf("a");
            byte[] first = KvRecords.prefill(0, 0, 0, rows(rnd, 5), rows(rnd, 5), rows(rnd, 2), null);
            snapshot.write("a", j, first, () -> offset[0] += 3);
            snapshot.checkpoint();
            byte[] later = KvRecords.append(0, 0, 5, rows(rnd, 1)[0], rows(rnd, 1)[0]);
            snapshot.write("a", j, later, () -> ++offset[0]); // after the manifest: in the topic, cut from the journal when loaded
            j.close();

            KvSnapshot.Manifest m = KvSnapshot.read(dir);
            assertThat(m.topicId()).isEqualTo("topic-id");
            assertThat(m.partition()).isEqualTo(3);
            assertThat(m.covered()).isEqualTo(104);
            assertThat(m.sessions()).singleElement().satisfies(e -> {
                assertThat(e.id()).isEqualTo("a");
                assertThat(e.createdAt()).isEqualTo(100);
                assertThat(e.config()).isEqualTo(config);
            });
            KvSnapshot again = KvSnapshot.start(dir, "topic-id", 3, m);
            try (KvSession s = new KvSession("a", config, scorer, INLINE)) {
                again.load(m.sessions().getFirst(), s).close();
                assertThat(s.length(0, 0)).isEqualTo(5);
            }
            assertThat(Files.size(dir.resolve(m.sessions().getFirst().file()))).isEqualTo(m.sessions().getFirst().bytes());
            assertThat(again.lastCovered()).isEqualTo(104);

            flipByte(dir.resolve(KvSnapshot.MANIFEST), 20);
            assertThatThrownBy(() -> KvSnapshot.read(dir)).isInstanceOf(CorruptFileException.class);
        }
    }

    @Test
    void aSessionIdThatDoesNotNameAFileStopsTheSnapshotsAndWritesNothing(@TempDir Path root) throws Exception {
        Path dir = root.resolve("topic").resolve("0");
        KvSnapshot snapshot = KvSnapshot.start(dir, "topic-id", 0, null);
        snapshot.checkpoint();
        byte[] manifest = Files.readAllBytes(dir.resolve(KvSnapshot.MANIFEST));
        assertThat(snapshot.create("../../escape", KvSessionConfig.defaults(1, 1, 1, 8), 7)).isNull();
        assertThat(snapshot.stopped()).contains("does not name a file");
        snapshot.checkpoint(); // stopped: the last manifest stays as it was
        assertThat(Files.readAllBytes(dir.resolve(KvSnapshot.MANIFEST))).isEqualTo(manifest);
        try (Stream<Path> all = Files.walk(root)) {
            assertThat(all.filter(Files::isRegularFile).map(p -> root.relativize(p).toString())).containsExactly("topic/0/" + KvSnapshot.MANIFEST);
        }
    }

    private static float[][] rows(SplittableRandom rnd, int n) {
        float[][] out = new float[n][8];
        for (float[] r : out) {
            for (int i = 0; i < r.length; i++) {
                r[i] = (float) rnd.nextGaussian();
            }
        }
        return out;
    }

    private static void flipByte(Path file, long at) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, at);
            b.put(0, (byte) (b.get(0) ^ 0x5A));
            ch.write(b.flip(), at);
        }
    }
}
