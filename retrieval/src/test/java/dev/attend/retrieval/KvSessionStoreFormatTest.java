package dev.attend.retrieval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.index.store.DamageLog;
import dev.attend.index.store.DurableFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A configuration this build cannot read is not damage (review finding 3): an intact file of a newer format, a name this
 * build does not know and a failure to read it at all leave the session in place, reported, its id taken; only damage is
 * moved to the quarantine, and a framed configuration whose magic number is damaged is damage, never plain properties
 * (finding 15). The messages of a refused create name no absolute path (finding 10).
 */
class KvSessionStoreFormatTest {

    private static final long SEED = Long.getLong("attend.test.seed", 31L);
    private static final String CODEC = "attend.kv-session-config";
    private static Scorer scorer;

    @BeforeAll
    static void open() {
        System.out.println("KvSessionStoreFormatTest seed " + SEED);
        scorer = Scorers.create("simd");
    }

    @AfterAll
    static void close() {
        scorer.close();
    }

    private static KvSessionStore store(Path root) throws IOException {
        return new KvSessionStore(root, scorer, Runnable::run, Runnable::run, KvDurability.PROCESS);
    }

    /** Session {@code id} with {@code tokens} appended to head 0, and session "fine" with one. */
    private static void sessions(Path root, String id, int tokens, SplittableRandom rnd) throws IOException {
        try (KvSessionStore store = store(root)) {
            KvSession s = store.create(id, KvSessionStoreTest.config());
            for (int i = 0; i < tokens; i++) {
                s.append(0, 0, i, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd));
            }
            store.create("fine", KvSessionStoreTest.config()).append(0, 0, 0, KvSessionStoreTest.row(rnd), KvSessionStoreTest.row(rnd));
        }
    }

    /** The properties text of a framed configuration. */
    private static String payload(Path config) throws IOException {
        try (DurableFile.Reader r = DurableFile.open(config, CODEC, 1, 1)) {
            return new String(r.in().readNBytes((int) r.payloadBytes()), StandardCharsets.ISO_8859_1);
        }
    }

    private interface Change {
        void apply(Path config) throws IOException;
    }

    /**
     * Opens the store after {@code change}: the session is not served, left in place whole (nothing moved, nothing
     * rewritten), reported once with no quarantine, listed as unloaded, its id taken (create refused with a message
     * without the store's path); the rest comes up. After {@code restore} it is served again with every token.
     */
    private static void leftInPlace(Path root, Change change, Change restore, String reasonContains) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED);
        String id = "later";
        sessions(root, id, 20, rnd);
        Path config = root.resolve(id).resolve("session.properties");
        change.apply(config);
        TreeMap<String, Long> before = KvSessionStoreDamageTest.tree(root);
        int reportsBefore = DamageLog.under(root).size();
        try (KvSessionStore store = store(root)) {
            assertThat(store.get(id)).isNull();
            assertThat(store.get("fine").length(0, 0)).isEqualTo(1);
            assertThat(store.unloaded()).singleElement().satisfies(u -> {
                assertThat(u.id()).isEqualTo(id);
                assertThat(u.reason()).contains(reasonContains).contains("left in place");
            });
            List<DamageLog.Damage> reports = DamageLog.under(root);
            assertThat(reports).hasSize(reportsBefore + 1);
            assertThat(reports.getLast().quarantinedTo()).isNull();
            assertThatThrownBy(() -> store.create(id, KvSessionStoreTest.config())).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("not loaded").hasMessageContaining(root.getFileName() + "/'" + id + "'")
                    .satisfies(e -> assertThat(e.getMessage()).doesNotContain(root.toAbsolutePath().toString())
                            .doesNotContain(root.getParent().toString()));
            assertThat(store.delete(id)).isFalse();
        }
        assertThat(KvSessionStoreDamageTest.tree(root)).as("nothing moved, rewritten or deleted").isEqualTo(before);
        assertThat(Files.exists(root.resolve("quarantine"))).isFalse();
        restore.apply(config);
        try (KvSessionStore store = store(root)) {
            assertThat(store.get(id).length(0, 0)).isEqualTo(20);
            assertThat(store.unloaded()).isEmpty();
        }
    }

    @Test
    void anIntactConfigurationOfANewerVersionIsLeftInPlaceAndItsIdStaysTaken(@TempDir Path root) throws Exception {
        String[] text = new String[1];
        leftInPlace(root, config -> {
            text[0] = payload(config);
            DurableFile.write(config, CODEC, 2, out -> out.write(text[0].getBytes(StandardCharsets.ISO_8859_1)));
        }, config -> DurableFile.write(config, CODEC, 1, out -> out.write(text[0].getBytes(StandardCharsets.ISO_8859_1))),
                "format version 2");
    }

    @Test
    void anIntactFileOfAnotherCodecIsLeftInPlace(@TempDir Path root) throws Exception {
        String[] text = new String[1];
        leftInPlace(root, config -> {
            text[0] = payload(config);
            DurableFile.write(config, "attend.kv-session-config-v9", 1, out -> out.write(text[0].getBytes(StandardCharsets.ISO_8859_1)));
        }, config -> DurableFile.write(config, CODEC, 1, out -> out.write(text[0].getBytes(StandardCharsets.ISO_8859_1))),
                "attend.kv-session-config-v9");
    }

    @Test
    void aHeadPolicyThisBuildDoesNotKnowIsLeftInPlace(@TempDir Path root) throws Exception {
        String[] text = new String[1];
        leftInPlace(root, config -> {
            text[0] = payload(config);
            String future = text[0].replaceAll("(?m)^policy=retrieval$", "policy=speculative-future-policy");
            assertThat(future).isNotEqualTo(text[0]);
            DurableFile.write(config, CODEC, 1, out -> out.write(future.getBytes(StandardCharsets.ISO_8859_1)));
        }, config -> DurableFile.write(config, CODEC, 1, out -> out.write(text[0].getBytes(StandardCharsets.ISO_8859_1))),
                "speculative-future-policy");
    }

    @Test
    void aStorageThisBuildDoesNotKnowInAPlainConfigurationIsLeftInPlace(@TempDir Path root) throws Exception {
        String[] text = new String[1];
        leftInPlace(root, config -> {
            text[0] = payload(config);
            Files.writeString(config, text[0].replaceAll("(?m)^storage=FLOAT32$", "storage=FLOAT4"), StandardCharsets.ISO_8859_1);
        }, config -> Files.writeString(config, text[0], StandardCharsets.ISO_8859_1), "FLOAT4");
    }

    @Test
    void aConfigurationThatCannotBeReadNowIsLeftInPlace(@TempDir Path root) throws Exception {
        // Not damage, not a format: an I/O error (here a folder where the file should be; EACCES or EMFILE alike).
        Path saved = root.resolveSibling(root.getFileName() + "-saved.properties");
        leftInPlace(root, config -> {
            Files.move(config, saved);
            Files.createDirectory(config);
        }, config -> {
            Files.delete(config);
            Files.move(saved, config);
        }, "cannot be read now");
    }

    /** A framed configuration whose bytes after the header are all text, so that a plain reader would take it. */
    private static byte[] framedText(Path config) throws IOException {
        String text = payload(config);
        for (int pad = 0; pad < 100_000; pad++) {
            String padded = text + "#pad " + pad + "\n";
            DurableFile.write(config, CODEC, 1, out -> out.write(padded.getBytes(StandardCharsets.ISO_8859_1)));
            byte[] b = Files.readAllBytes(config);
            boolean ascii = true;
            for (int i = 4; i < b.length; i++) {
                ascii &= b[i] >= 0;
            }
            if (ascii) {
                return b;
            }
        }
        throw new AssertionError("no padding found");
    }

    @Test
    void aFramedConfigurationWithADamagedMagicNumberIsDamageNotPlainProperties(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        List<byte[]> magics = List.of("ATDG".getBytes(StandardCharsets.US_ASCII), new byte[4], "#TDF".getBytes(StandardCharsets.US_ASCII),
                new byte[] {(byte) 0xBE, (byte) 0xAB, (byte) 0xBB, (byte) 0xB9});
        for (int trial = 0; trial < magics.size(); trial++) {
            Path dir = root.resolve("t" + trial);
            sessions(dir, "m", 10, rnd);
            Path config = dir.resolve("m/session.properties");
            byte[] framed = framedText(config); // a plain reader skips the header and footer as lines of garbage
            System.arraycopy(magics.get(trial), 0, framed, 0, 4);
            Files.write(config, framed);
            int reportsBefore = DamageLog.under(dir).size();
            try (KvSessionStore store = store(dir)) {
                assertThat(store.get("m")).as("trial %d: never served from an unchecked configuration", trial).isNull();
                assertThat(store.get("fine")).isNotNull();
                assertThat(store.unloaded()).isEmpty();
                List<DamageLog.Damage> reports = DamageLog.under(dir);
                assertThat(reports).hasSize(reportsBefore + 1);
                DamageLog.Damage d = reports.getLast();
                assertThat(d.reason()).contains("damaged");
                assertThat(d.quarantinedTo()).isNotNull();
                assertThat(Files.readAllBytes(d.quarantinedTo().resolve("session.properties"))).as("kept as found, not rewritten")
                        .isEqualTo(framed);
                store.create("m", KvSessionStoreTest.config()); // the id is free again and starts clean
            }
        }
    }

    @Test
    void plainConfigurationsOfEarlierBuildsStillOpen(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 2);
        sessions(root, "old", 5, rnd);
        Path config = root.resolve("old/session.properties");
        Files.writeString(config, payload(config), StandardCharsets.ISO_8859_1);
        try (KvSessionStore store = store(root)) {
            assertThat(store.get("old").length(0, 0)).isEqualTo(5);
            assertThat(store.damage()).isEmpty();
        }
        assertThat(DurableFile.isFramed(config)).isTrue();
        // A plain file that is damaged (a number no longer a number) is damage: moved aside, not left half-read.
        Files.writeString(config, payload(config).replaceAll("(?m)^headDim=.*$", "headDim=3x"), StandardCharsets.ISO_8859_1);
        try (KvSessionStore store = store(root)) {
            assertThat(store.get("old")).isNull();
            assertThat(store.unloaded()).isEmpty();
            assertThat(store.damage()).singleElement().satisfies(d -> assertThat(d.quarantinedTo()).isNotNull());
        }
    }

    @Test
    void aRefusedCreateNamesNoPath(@TempDir Path root) throws Exception {
        sessions(root, "x", 1, new SplittableRandom(SEED + 3));
        // Files of an earlier session in a folder the store did not load (left there while it was open).
        try (KvSessionStore store = new KvSessionStore(root.resolve("other"), scorer, Runnable::run, Runnable::run, KvDurability.PROCESS)) {
            Files.createDirectories(root.resolve("other/y"));
            Files.copy(root.resolve("x/journal.log"), root.resolve("other/y/journal.log"));
            assertThatThrownBy(() -> store.create("y", KvSessionStoreTest.config())).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("other/'y'").hasMessageContaining("earlier session")
                    .satisfies(e -> assertThat(e.getMessage()).doesNotContain(root.toString()));
        }
    }
}
