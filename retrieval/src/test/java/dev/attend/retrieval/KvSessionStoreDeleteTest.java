package dev.attend.retrieval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.index.store.DamageLog;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A delete is all or nothing (review finding 7): the session's folder is renamed away first, so a failure before that
 * leaves the session served (and an error), and a failure after it still deletes the session, whose files a later open
 * finishes removing; the session never comes back after a restart.
 */
class KvSessionStoreDeleteTest {

    private static final long SEED = Long.getLong("attend.test.seed", 37L);
    private static Scorer scorer;

    @BeforeAll
    static void open() {
        System.out.println("KvSessionStoreDeleteTest seed " + SEED);
        scorer = Scorers.create("simd");
    }

    @AfterAll
    static void close() {
        scorer.close();
    }

    private static KvSessionStore store(Path root) throws IOException {
        return new KvSessionStore(root, scorer, Runnable::run, Runnable::run, KvDurability.PROCESS);
    }

    private static void append(KvSession s, int from, int n, SplittableRandom rnd) {
        for (int i = 0; i < n; i++) {
            s.append(0, 0, from + i, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd));
        }
    }

    private static List<String> names(Path root) throws IOException {
        try (Stream<Path> list = Files.list(root)) {
            return list.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aRenameThatFailsLeavesTheSessionServedAndSaysSo(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED);
        try (KvSessionStore store = store(root)) {
            append(store.create("d", KvSessionStoreTest.config()), 0, 10, rnd);
            TreeMap<String, Long> before = KvSessionStoreDamageTest.tree(root);
            store.injectFileFault((op, path) -> {
                if (op.equals("rename")) {
                    throw new IOException("Input/output error");
                }
            });
            assertThatThrownBy(() -> store.delete("d")).isInstanceOf(UncheckedIOException.class).hasMessageContaining("not deleted")
                    .hasMessageContaining("still served");
            assertThat(KvSessionStoreDamageTest.tree(root)).isEqualTo(before);
            KvSession s = store.get("d");
            assertThat(s).isNotNull();
            append(s, 10, 1, rnd); // still open and writable
            assertThat(store.ids()).containsExactly("d");
            store.injectFileFault(null);
        }
        try (KvSessionStore store = store(root)) {
            assertThat(store.get("d").length(0, 0)).isEqualTo(11);
        }
    }

    @Test
    void aDeletionThatFailsAfterTheRenameStillDeletesAndANewOpenFinishesIt(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        try (KvSessionStore store = store(root)) {
            append(store.create("d", KvSessionStoreTest.config()), 0, 10, rnd);
            append(store.create("keep", KvSessionStoreTest.config()), 0, 3, rnd);
            store.injectFileFault((op, path) -> {
                if (op.equals("delete") && path.getFileName().toString().equals("journal.log")) {
                    throw new IOException("Input/output error");
                }
            });
            assertThat(store.delete("d")).isTrue();
            store.injectFileFault(null);
            assertThat(store.get("d")).isNull();
            assertThat(store.ids()).containsExactly("keep");
            assertThat(names(root)).hasSize(2).contains("keep").anySatisfy(n -> assertThat(n).startsWith(".deleted-d-"));
            append(store.create("d", KvSessionStoreTest.config()), 0, 2, rnd); // the id is free at once, and starts clean
        }
        int reportsBefore = DamageLog.under(root).size();
        try (KvSessionStore store = store(root)) {
            assertThat(store.get("d").length(0, 0)).as("the new session, never the deleted one").isEqualTo(2);
            assertThat(store.get("keep").length(0, 0)).isEqualTo(3);
            assertThat(store.unloaded()).isEmpty();
        }
        assertThat(names(root)).containsExactly("d", "keep");
        assertThat(DamageLog.under(root)).hasSize(reportsBefore);
    }

    @Test
    void aDeleteCutShortByACrashAfterTheRenameIsFinishedAtOpenAndNeverLoaded(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 2);
        try (KvSessionStore store = store(root)) {
            append(store.create("c", KvSessionStoreTest.config()), 0, 5, rnd);
            append(store.create("u", KvSessionStoreTest.config()), 0, 5, rnd);
        }
        // What a crash between the rename and the deletions leaves: whole session folders under the deleted name.
        Files.move(root.resolve("c"), root.resolve(".deleted-c-123"));
        Files.move(root.resolve("u"), root.resolve(".deleted-u-with-dashes-456"));
        Files.writeString(root.resolve(".deleted-u-with-dashes-456/notes.txt"), "an operator's file");
        Files.writeString(root.resolve(".deleted-u-with-dashes-456/session.properties.12345.tmp"), "x");
        Files.writeString(root.resolve(".deleted-file-7"), "an operator's file, not a folder: never removed");
        try (KvSessionStore store = store(root)) {
            assertThat(store.ids()).isEmpty();
            assertThat(store.unloaded()).isEmpty();
            assertThat(store.damage()).isEmpty();
            store.create("c", KvSessionStoreTest.config());
        }
        assertThat(names(root)).containsExactly(".deleted-file-7", ".deleted-u-with-dashes-456", "c");
        try (Stream<Path> left = Files.list(root.resolve(".deleted-u-with-dashes-456"))) {
            assertThat(left.map(p -> p.getFileName().toString()).toList()).as("only what the store did not make")
                    .containsExactly("notes.txt");
        }
    }

    @Test
    void aDeletedSessionWithAForeignFileDoesNotComeBackAsDamage(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 3);
        try (KvSessionStore store = store(root)) {
            append(store.create("f", KvSessionStoreTest.config()), 0, 5, rnd);
            Files.writeString(root.resolve("f/notes.txt"), "an operator's file");
            assertThat(store.delete("f")).isTrue();
            assertThat(store.delete("f")).isFalse();
        }
        int reportsBefore = DamageLog.under(root).size();
        try (KvSessionStore store = store(root)) {
            assertThat(store.ids()).isEmpty();
            assertThat(store.unloaded()).isEmpty();
            store.create("f", KvSessionStoreTest.config()); // the id is free
        }
        assertThat(DamageLog.under(root)).as("a deleted session is not reported as damage").hasSize(reportsBefore);
    }
}
