package dev.attend.retrieval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.index.store.DamageLog;
import dev.attend.index.store.DurableFile;
import dev.attend.retrieval.internals.KvJournal;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A journal write that failed, and whose rollback failed too, is never replayed (review finding 6): the close cuts it,
 * and until something has cut it a marker on disk makes the next open cut it (keeping a copy in the quarantine, reported).
 * Failures are injected at the journal's file.
 */
class KvSessionRollbackTest {

    private static final long SEED = Long.getLong("attend.test.seed", 41L);
    private static Scorer scorer;

    @BeforeAll
    static void open() {
        System.out.println("KvSessionRollbackTest seed " + SEED);
        scorer = Scorers.create("simd");
    }

    @AfterAll
    static void close() {
        scorer.close();
    }

    private static KvSessionStore store(Path root) throws IOException {
        return new KvSessionStore(root, scorer, Runnable::run, Runnable::run, KvDurability.FSYNC);
    }

    /**
     * Session "r" with 20 tokens in head 0, then an append whose whole record reaches the journal but fails (the client
     * is told nothing was applied) and whose rollback fails {@code truncateFaults} times; returns the journal's size
     * before that append.
     */
    private static long failedAppend(KvSessionStore store, int truncateFaults, SplittableRandom rnd) throws IOException {
        KvSession s = store.create("r", KvSessionStoreTest.config());
        for (int i = 0; i < 20; i++) {
            s.append(0, 0, i, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd));
        }
        long size = s.journal().size();
        s.journal().injectFault(Long.MAX_VALUE, new IOException("Input/output error")); // the whole record, then the failure
        s.journal().injectTruncateFaults(truncateFaults);
        assertThatThrownBy(() -> s.append(0, 0, 20, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd)))
                .isInstanceOf(UncheckedIOException.class).hasMessageContaining("nothing changed");
        assertThat(s.length(0, 0)).isEqualTo(20);
        assertThat(s.journal().size()).as("the whole record is in the file").isGreaterThan(size);
        assertThat(Files.exists(KvJournal.rollbackMarker(s.journal().file()))).as("marked for the next open").isTrue();
        return size;
    }

    @Test
    void theCloseCutsAFailedWriteWhoseRollbackFailed(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED);
        long size;
        Path journal = root.resolve("r/journal.log");
        try (KvSessionStore store = store(root)) {
            size = failedAppend(store, 1, rnd);
        }
        assertThat(Files.size(journal)).isEqualTo(size);
        assertThat(Files.exists(KvJournal.rollbackMarker(journal))).isFalse();
        try (KvSessionStore store = store(root)) {
            KvSession s = store.get("r");
            assertThat(s.length(0, 0)).as("the write the client was told failed is not replayed").isEqualTo(20);
            s.append(0, 0, 20, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd)); // its position is free
            assertThat(store.damage()).isEmpty();
        }
    }

    @Test
    void theNextWriteCutsItAndRemovesTheMarker(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        Path journal = root.resolve("r/journal.log");
        try (KvSessionStore store = store(root)) {
            long size = failedAppend(store, 1, rnd);
            KvSession s = store.get("r");
            s.append(0, 0, 20, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd));
            assertThat(Files.exists(KvJournal.rollbackMarker(journal))).as("removed before the write is journaled").isFalse();
            assertThat(Files.size(journal) - size).isEqualTo(KvJournal.recordBytes(1, 0, KvSessionStoreTest.config().headDim(), false));
        }
        try (KvSessionStore store = store(root)) {
            assertThat(store.get("r").length(0, 0)).isEqualTo(21);
            assertThat(store.damage()).isEmpty();
        }
    }

    @Test
    void aCrashBeforeTheCutLeavesAMarkerThatTheNextOpenHonours(@TempDir Path tmp) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 2);
        Path root = tmp.resolve("kv");
        Path crashed = tmp.resolve("crashed");
        long size;
        long full;
        try (KvSessionStore store = store(root)) {
            size = failedAppend(store, 1, rnd);
            full = store.get("r").journal().size();
            copyTree(root, crashed); // the disk as a crash (kill -9, power loss after the forced marker) would leave it
        }
        open(crashed, size, full, rnd);
    }

    @Test
    void aCloseWhoseCutFailsTooLeavesTheMarkerForTheNextOpen(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 3);
        long size;
        long full;
        try (KvSessionStore store = store(root)) {
            size = failedAppend(store, 2, rnd);
            full = store.get("r").journal().size();
        }
        assertThat(Files.size(root.resolve("r/journal.log"))).isEqualTo(full);
        open(root, size, full, rnd);
    }

    /** Opens a store whose session "r" has a marker at {@code size} in a journal of {@code full} bytes. */
    private static void open(Path root, long size, long full, SplittableRandom rnd) throws IOException {
        Path journal = root.resolve("r/journal.log");
        byte[] cut = Arrays.copyOfRange(Files.readAllBytes(journal), (int) size, (int) full);
        int reportsBefore = DamageLog.under(root).size();
        try (KvSessionStore store = store(root)) {
            KvSession s = store.get("r");
            assertThat(s.length(0, 0)).as("never replayed").isEqualTo(20);
            List<DamageLog.Damage> reports = DamageLog.under(root);
            assertThat(reports).hasSize(reportsBefore + 1);
            DamageLog.Damage d = reports.getLast();
            assertThat(d.reason()).contains("rollback failed").contains("[" + size + ", " + full + ")");
            assertThat(d.quarantinedTo()).isNotNull();
            assertThat(Files.readAllBytes(d.quarantinedTo())).as("the bytes cut are kept").isEqualTo(cut);
            assertThat(Files.size(journal)).isEqualTo(size);
            assertThat(Files.exists(KvJournal.rollbackMarker(journal))).isFalse();
            s.append(0, 0, 20, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd));
        }
        try (KvSessionStore store = store(root)) {
            assertThat(store.get("r").length(0, 0)).isEqualTo(21);
        }
        assertThat(DamageLog.under(root)).hasSize(reportsBefore + 1);
    }

    @Test
    void aMarkerThatCannotBeReadLeavesTheSessionInPlace(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 4);
        long full;
        try (KvSessionStore store = store(root)) {
            failedAppend(store, 2, rnd);
            full = store.get("r").journal().size();
            store.create("fine", KvSessionStoreTest.config());
        }
        Path marker = KvJournal.rollbackMarker(root.resolve("r/journal.log"));
        byte[] m = Files.readAllBytes(marker);
        m[m.length / 2] ^= 0x55;
        Files.write(marker, m);
        try (KvSessionStore store = store(root)) {
            assertThat(store.get("r")).isNull();
            assertThat(store.get("fine")).isNotNull();
            assertThat(store.unloaded()).singleElement().satisfies(u -> assertThat(u.reason()).contains("rollback marker"));
        }
        assertThat(Files.size(root.resolve("r/journal.log"))).as("left as found").isEqualTo(full);
        assertThat(Files.readAllBytes(marker)).isEqualTo(m);
    }

    @Test
    void aDeletedSessionTakesItsMarkerWithIt(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 5);
        try (KvSessionStore store = store(root)) {
            failedAppend(store, 1, rnd);
            DurableFile.write(root.resolve("r/journal.log.rollback.123.tmp"), "x", 1, out -> { }); // a marker cut short
            assertThat(store.delete("r")).isTrue();
        }
        try (Stream<Path> left = Files.list(root)) {
            assertThat(left.toList()).isEmpty();
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> all = Files.walk(from)) {
            for (Path p : all.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }
}
