package dev.attend.retrieval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.index.store.StorageErrors;
import dev.attend.index.store.Tmpfs;
import dev.attend.index.store.TmpfsMounts;
import dev.attend.retrieval.internals.KvJournal;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A KV write that fails on I/O applies nothing and says why (issue 20): on a real full file system where this
 * machine lets the test mount a small tmpfs (root on Linux), and always with a failure injected at the journal's file.
 */
class KvSessionDiskFullTest {

    private static final long SEED = Long.getLong("attend.test.seed", 23L);
    private static Scorer scorer;
    @RegisterExtension
    final TmpfsMounts mounts = new TmpfsMounts();

    @BeforeAll
    static void open() {
        System.out.println("KvSessionDiskFullTest seed " + SEED);
        scorer = Scorers.create("simd");
    }

    @AfterAll
    static void close() {
        scorer.close();
    }

    private static KvSessionStore store(Path root) throws IOException {
        return new KvSessionStore(root, scorer, Runnable::run, Runnable::run, KvDurability.FSYNC);
    }

    @Test
    void aFullFileSystemRefusesTheWriteAppliesNothingAndWritesWorkOnceSpaceReturns(@TempDir Path tmp) throws Exception {
        Path mnt = tmp.resolve("mnt");
        Tmpfs mounted = mounts.mount(mnt, "1m");
        if (mounted == null) {
            System.out.println("KvSessionDiskFullTest: tmpfs cannot be mounted here; the full disk is only injected "
                    + "(anInjectedFailureInTheMiddleOfARecordIsRolledBack)");
            Assumptions.abort("no tmpfs: mount refused");
        }
        System.out.println("KvSessionDiskFullTest: a real full file system (tmpfs of 1 MiB)");
        SplittableRandom rnd = new SplittableRandom(SEED);
        Path root = mnt.resolve("kv");
        Path filler = mnt.resolve("filler");
        int acknowledged = 0;
        try (KvSessionStore store = store(root)) {
            KvSession s = store.create("full", KvSessionStoreTest.config());
            Tmpfs.fill(filler);
            Path journal = root.resolve("full/journal.log");
            UncheckedIOException refused = null;
            // The journal's last page may have room for a few records: write until the disk says no.
            for (int i = 0; i < 100_000 && refused == null; i++) {
                long before = Files.size(journal);
                try {
                    s.append(0, 0, i, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd));
                    acknowledged++;
                } catch (UncheckedIOException e) {
                    refused = e;
                    assertThat(Files.size(journal)).as("rolled back").isEqualTo(before);
                }
            }
            assertThat(refused).isNotNull();
            assertThat(refused.getCause()).isInstanceOf(StorageErrors.StorageFullException.class);
            assertThat(refused.getMessage()).contains("disk is full").contains("nothing changed");
            assertThat(StorageErrors.isDiskFull(refused)).isTrue();
            assertThat(s.length(0, 0)).isEqualTo(acknowledged);
            assertThatThrownBy(() -> store.create("another", KvSessionStoreTest.config())).isInstanceOf(UncheckedIOException.class)
                    .satisfies(e -> assertThat(StorageErrors.isDiskFull(e)).isTrue());
            assertThat(Files.exists(root.resolve("another"))).as("a failed create leaves nothing").isFalse();
            Files.delete(filler); // space returns: writes work again, no restart
            s.append(0, 0, acknowledged, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd));
            acknowledged++;
            store.create("another", KvSessionStoreTest.config()).append(0, 1, 0, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd));
        }
        try (KvSessionStore store = store(root)) {
            assertThat(store.get("full").length(0, 0)).isEqualTo(acknowledged);
            assertThat(store.get("another").length(0, 1)).isEqualTo(1);
            assertThat(store.damage()).isEmpty();
        }
    }

    @Test
    void anInjectedFailureInTheMiddleOfARecordIsRolledBack(@TempDir Path root) throws Exception {
        System.out.println("KvSessionDiskFullTest: failures injected at the journal's file");
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        float[][] keys = KvSessionStoreTest.rows(rnd, 30);
        try (KvSessionStore store = store(root)) {
            KvSession s = store.create("i", KvSessionStoreTest.config());
            s.prefill(0, 0, 0, keys, keys, new float[0][]);
            long size = s.journal().size();
            long charged = s.chargedBytes();
            s.journal().injectFault(50, new IOException("No space left on device"));
            assertThatThrownBy(() -> s.append(0, 0, 30, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd)))
                    .isInstanceOf(UncheckedIOException.class).hasCauseInstanceOf(StorageErrors.StorageFullException.class)
                    .hasMessageContaining("nothing changed");
            assertThat(s.journal().size()).isEqualTo(size);
            assertThat(s.length(0, 0)).isEqualTo(30);
            assertThat(s.chargedBytes()).isEqualTo(charged);
            s.journal().injectFault(7, new IOException("Input/output error"));
            assertThatThrownBy(() -> s.prefill(0, 1, 0, keys, keys, new float[0][]))
                    .isInstanceOf(UncheckedIOException.class).satisfies(e -> assertThat(StorageErrors.isDiskFull(e)).isFalse())
                    .hasMessageContaining("Input/output error");
            assertThat(s.journal().size()).isEqualTo(size);
            assertThat(s.length(0, 1)).isZero();
            s.append(0, 0, 30, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd));
            s.prefill(0, 1, 0, keys, keys, new float[0][]);
        }
        try (KvSessionStore store = store(root)) {
            assertThat(store.get("i").length(0, 0)).isEqualTo(31);
            assertThat(store.get("i").length(0, 1)).isEqualTo(30);
            assertThat(store.damage()).isEmpty();
        }
    }

    @Test
    void aLayerStepThatCannotBeJournaledChangesNoHead(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 2);
        float[][] keys = KvSessionStoreTest.rows(rnd, 30);
        float[][] query = {KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd)};
        float[][] stepKeys = {KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd)};
        float[][] stepValues = {KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd)};
        try (KvSessionStore store = store(root)) {
            KvSession s = store.create("layer", KvSessionStoreTest.config());
            s.prefill(0, 0, 0, keys, keys, new float[0][]);
            s.prefill(0, 1, 0, keys, keys, new float[0][]);
            long size = s.journal().size();
            long charged = s.chargedBytes();
            // Past the first head's key and value: a journal written head by head would hold head 0's token by then.
            long pastFirstHead = 28 + 21 + 2L * 4 * stepKeys[0].length + 8;
            s.journal().injectFault(pastFirstHead, new IOException("No space left on device"));
            assertThatThrownBy(() -> s.decodeLayer(0, 30, stepKeys, stepValues, query, 0))
                    .isInstanceOf(UncheckedIOException.class).hasCauseInstanceOf(StorageErrors.StorageFullException.class)
                    .hasMessageContaining("nothing changed");
            assertThat(s.length(0, 0)).isEqualTo(30);
            assertThat(s.length(0, 1)).isEqualTo(30);
            assertThat(s.journal().size()).isEqualTo(size);
            assertThat(s.chargedBytes()).isEqualTo(charged);
            s.decodeLayer(0, 30, stepKeys, stepValues, query, 0); // the same step again, once there is room
            assertThat(s.journal().size() - size).as("one record for the layer's step")
                    .isEqualTo(KvJournal.recordBytes(2, 0, stepKeys[0].length, false));
        }
        try (KvSessionStore store = store(root)) {
            KvSession s = store.get("layer");
            assertThat(s.length(0, 0)).isEqualTo(31);
            assertThat(s.length(0, 1)).isEqualTo(31);
            assertThat(store.damage()).isEmpty();
        }
    }
}
