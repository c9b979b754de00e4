package dev.attend.retrieval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.gpu.Scorer;
import dev.attend.gpu.Scorers;
import dev.attend.index.store.DamageLog;
import dev.attend.index.store.DurableFile;
import dev.attend.index.store.ResourceId;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hostile ids and damaged files of a {@link KvSessionStore} (issue 20): refused, quarantined and reported, never truncated. */
class KvSessionStoreDamageTest {

    private static final long SEED = Long.getLong("attend.test.seed", 20L);
    private static Scorer scorer;

    @BeforeAll
    static void open() {
        System.out.println("KvSessionStoreDamageTest seed " + SEED);
        scorer = Scorers.create("simd");
    }

    @AfterAll
    static void close() {
        scorer.close();
    }

    private static KvSessionStore store(Path root) throws IOException {
        return new KvSessionStore(root, scorer, Runnable::run, Runnable::run, KvDurability.PROCESS);
    }

    private static float[] row(SplittableRandom rnd) {
        return KvSessionStoreTest.row(rnd);
    }

    /** Every file and folder under {@code dir} with its size (folders -1): what a refused call must leave as it was. */
    static TreeMap<String, Long> tree(Path dir) throws IOException {
        TreeMap<String, Long> out = new TreeMap<>();
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.toList()) {
                out.put(dir.relativize(p).toString(), Files.isDirectory(p) ? -1 : Files.size(p));
            }
        }
        return out;
    }

    @Test
    void hostileIdsAreRefusedAndChangeNothingOnDisk(@TempDir Path tmp) throws Exception {
        Path root = tmp.resolve("data").resolve("kv");
        Files.createDirectories(root);
        Files.writeString(tmp.resolve("data").resolve("keep.txt"), "the rest of the data directory");
        try (KvSessionStore store = store(root)) {
            store.create("fine", KvSessionStoreTest.config()).append(0, 0, 0, row(new SplittableRandom(SEED)), row(new SplittableRandom(SEED)));
            TreeMap<String, Long> before = tree(tmp);
            List<String> hostile = List.of(".", "..", "../x", "a/b", "x".repeat(10_240), ".hidden", "", "a\\b", "a\u0000b",
                    "quarantine", "/etc");
            for (String id : hostile) {
                assertThatThrownBy(() -> store.create(id, KvSessionStoreTest.config()))
                        .as("create %s", ResourceIdShown.of(id)).isInstanceOf(IllegalArgumentException.class)
                        .satisfies(e -> assertThat(e.getMessage().length()).isLessThan(400)); // never echoes a 10 KB id
                assertThatThrownBy(() -> store.delete(id)).as("delete %s", ResourceIdShown.of(id))
                        .isInstanceOf(IllegalArgumentException.class);
                assertThat(tree(tmp)).as("after %s", ResourceIdShown.of(id)).isEqualTo(before);
            }
            assertThat(store.ids()).containsExactly("fine");
        }
        assertThat(Files.readString(tmp.resolve("data").resolve("keep.txt"))).isEqualTo("the rest of the data directory");
    }

    /** Message-safe rendering of an id in assertion descriptions. */
    private static final class ResourceIdShown {
        static String of(String id) {
            return ResourceId.shown(id);
        }
    }

    @Test
    void theListingSkipsTheQuarantineAndFoldersThatAreNotIds(@TempDir Path root) throws Exception {
        try (KvSessionStore store = store(root)) {
            store.create("a", KvSessionStoreTest.config()).append(0, 0, 0, row(new SplittableRandom(SEED)), row(new SplittableRandom(SEED)));
        }
        // Copies of a real session under names that are not session ids, and inside the quarantine.
        for (String name : List.of(".hidden", "quarantine/a", "with space")) {
            Path d = root.resolve(name);
            Files.createDirectories(d);
            try (Stream<Path> files = Files.list(root.resolve("a"))) {
                for (Path f : files.toList()) {
                    Files.copy(f, d.resolve(f.getFileName()));
                }
            }
        }
        try (KvSessionStore store = store(root)) {
            assertThat(store.ids()).containsExactly("a");
            assertThat(store.get("a").length(0, 0)).isEqualTo(1);
        }
        assertThat(Files.exists(root.resolve("quarantine/a/journal.log"))).isTrue();
    }

    /** Appends {@code n} tokens to head {@code kvHead} one record each; returns the journal's size after each record. */
    private static long[] appendAll(KvSession s, Path journal, int kvHead, int from, int n, SplittableRandom rnd) throws IOException {
        long[] ends = new long[n];
        for (int i = 0; i < n; i++) {
            s.append(0, kvHead, from + i, row(rnd), row(rnd));
            ends[i] = Files.size(journal);
        }
        return ends;
    }

    private static void flip(Path file, long at, int bytes) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            for (int i = 0; i < bytes; i++) {
                f.seek(at + i);
                int b = f.read();
                f.seek(at + i);
                f.write(~b);
            }
        }
    }

    @Test
    void aDamagedRecordOfAnotherHeadIsSkippedAndTheGoodRecordsAfterItAreKept(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED);
        Path journal = root.resolve("m/journal.log");
        long damagedFrom;
        long damagedTo;
        float[] q = row(rnd);
        AttendResult before;
        try (KvSessionStore store = store(root)) {
            KvSession s = store.create("m", KvSessionStoreTest.config());
            appendAll(s, journal, 0, 0, 200, rnd);
            damagedFrom = Files.size(journal);
            s.append(0, 1, 0, row(rnd), row(rnd)); // the only record of head 1: the one damaged below
            damagedTo = Files.size(journal);
            appendAll(s, journal, 0, 200, 300, rnd); // many good records after it
            before = s.attendExact(0, 0, q);
        }
        long size = Files.size(journal);
        flip(journal, damagedFrom + (damagedTo - damagedFrom) / 2 - 8, 16);
        int damageBefore = DamageLog.under(root).size();
        try (KvSessionStore store = store(root)) {
            KvSession s = store.get("m");
            assertThat(s).as("head 0 lost nothing: the session is served").isNotNull();
            assertThat(s.length(0, 0)).isEqualTo(500);
            assertThat(s.length(0, 1)).isZero(); // its only token was the damaged record
            assertThat(s.attendExact(0, 0, q).output()).containsExactly(before.output(), Offset.offset(1e-5f));
            s.append(0, 0, 500, row(rnd), row(rnd));
        }
        List<DamageLog.Damage> damage = DamageLog.under(root);
        assertThat(damage).hasSize(damageBefore + 1);
        DamageLog.Damage d = damage.getLast();
        assertThat(d.reason()).contains("m").contains("bytes");
        assertThat(d.quarantinedTo()).isNotNull();
        assertThat(Files.size(d.quarantinedTo())).as("the damaged original is kept whole").isEqualTo(size);
        // The rewritten journal replays cleanly: no new damage on the next start.
        try (KvSessionStore store = store(root)) {
            assertThat(store.get("m").length(0, 0)).isEqualTo(501);
        }
        assertThat(DamageLog.under(root)).hasSize(damageBefore + 1);
    }

    @Test
    void aDamagedRecordInTheMiddleOfAHeadQuarantinesTheSessionInsteadOfTruncatingIt(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        Path journal = root.resolve("h/journal.log");
        long[] ends;
        try (KvSessionStore store = store(root)) {
            ends = appendAll(store.create("h", KvSessionStoreTest.config()), journal, 0, 0, 600, rnd);
            store.create("other", KvSessionStoreTest.config()).append(0, 0, 0, row(rnd), row(rnd));
        }
        long size = Files.size(journal);
        flip(journal, ends[100] + 20, 16); // inside record 101: records 102..599 no longer follow in order
        try (KvSessionStore store = store(root)) {
            assertThat(store.get("h")).as("never served with a hole").isNull();
            assertThat(store.get("other").length(0, 0)).isEqualTo(1);
            // The id is free again and starts clean.
            KvSession fresh = store.create("h", KvSessionStoreTest.config());
            assertThat(fresh.length(0, 0)).isZero();
            fresh.append(0, 0, 0, row(rnd), row(rnd));
        }
        DamageLog.Damage d = DamageLog.under(root).stream().filter(x -> x.reason().contains("'h'") || x.resource().contains("h"))
                .reduce((a, b) -> b).orElseThrow();
        assertThat(d.quarantinedTo()).isNotNull();
        Path moved = d.quarantinedTo().resolve("journal.log");
        assertThat(Files.size(moved)).as("not truncated").isEqualTo(size);
        try (KvSessionStore store = store(root)) {
            assertThat(store.get("h").length(0, 0)).isEqualTo(1);
        }
    }

    @Test
    void aMissingConfigurationQuarantinesTheSessionAndTheIdStartsClean(@TempDir Path root) throws Exception {
        damagedConfiguration(root, config -> Files.delete(config));
    }

    @Test
    void aDamagedConfigurationQuarantinesTheSessionAndTheIdStartsClean(@TempDir Path root) throws Exception {
        damagedConfiguration(root, config -> flip(config, Files.size(config) / 2, 16));
    }

    private interface Damage {
        void apply(Path config) throws IOException;
    }

    private void damagedConfiguration(Path root, Damage damage) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 2);
        try (KvSessionStore store = store(root)) {
            appendAll(store.create("p", KvSessionStoreTest.config()), root.resolve("p/journal.log"), 0, 0, 50, rnd);
            store.create("q", KvSessionStoreTest.config()).append(0, 0, 0, row(rnd), row(rnd));
        }
        damage.apply(root.resolve("p/session.properties"));
        int damageBefore = DamageLog.under(root).size();
        try (KvSessionStore store = store(root)) {
            assertThat(store.get("p")).isNull();
            assertThat(store.get("q").length(0, 0)).isEqualTo(1);
            assertThat(DamageLog.under(root)).hasSize(damageBefore + 1);
            assertThat(DamageLog.under(root).getLast().quarantinedTo()).isNotNull();
            assertThat(Files.exists(DamageLog.under(root).getLast().quarantinedTo().resolve("journal.log"))).isTrue();
            KvSession p = store.create("p", KvSessionStoreTest.config());
            assertThat(p.length(0, 0)).isZero();
            p.append(0, 0, 0, row(rnd), row(rnd));
        }
        try (KvSessionStore store = store(root)) { // restarts cleanly: the old journal is not appended to
            assertThat(store.get("p").length(0, 0)).isEqualTo(1);
            assertThat(store.get("q").length(0, 0)).isEqualTo(1);
        }
        assertThat(DamageLog.under(root)).hasSize(damageBefore + 1);
    }

    /** A format-1 record (before issue 20): {@code [length][body][CRC32]}, an append of one token. */
    private static byte[] formatOneAppend(int layer, int kvHead, int position, float[] key, float[] value) {
        ByteBuffer body = ByteBuffer.allocate(21 + 4 * (key.length + value.length));
        body.put((byte) 2).putInt(layer).putInt(kvHead).putInt(position).putInt(1).putInt(0);
        for (float x : key) {
            body.putFloat(x);
        }
        for (float x : value) {
            body.putFloat(x);
        }
        CRC32 crc = new CRC32();
        crc.update(body.array());
        return ByteBuffer.allocate(4 + body.capacity() + 4).putInt(body.capacity()).put(body.array()).putInt((int) crc.getValue())
                .array();
    }

    /** A session as the store wrote it before issue 20: plain properties, a format-1 journal. */
    private static Path formatOneSession(Path root, String id, int tokens, SplittableRandom rnd) throws IOException {
        Path dir = Files.createDirectories(root.resolve(id));
        Files.writeString(dir.resolve("session.properties"), """
                #Attend KV session
                layers=1
                kvHeads=2
                queryHeadsPerKvHead=1
                headDim=8
                sinkTokens=4
                windowTokens=16
                topK=20
                scale=0.35
                index.maxDegree=16
                index.queryNeighbors=30
                index.pivotsPerQuery=4
                index.buildBeam=32
                index.entryPoints=4
                storage=FLOAT32
                retriever=attention-aware
                indexPerQueryHead=false
                policy=retrieval
                """);
        ByteArrayOutputStream journal = new ByteArrayOutputStream();
        for (int i = 0; i < tokens; i++) {
            journal.writeBytes(formatOneAppend(0, 0, i, row(rnd), row(rnd)));
        }
        Files.write(dir.resolve("journal.log"), journal.toByteArray());
        return dir;
    }

    @Test
    void formatOneJournalsAndPlainConfigurationsStillOpenAndAreRewritten(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 3);
        Path dir = formatOneSession(root, "old", 40, rnd);
        Files.write(dir.resolve("journal.log"), new byte[] {0, 0, 1}, StandardOpenOption.APPEND); // a torn tail
        try (KvSessionStore store = store(root)) {
            KvSession s = store.get("old");
            assertThat(s.length(0, 0)).isEqualTo(40);
            s.append(0, 0, 40, row(rnd), row(rnd));
        }
        assertThat(DurableFile.isFramed(dir.resolve("session.properties"))).isTrue();
        try (DataInputStream in = new DataInputStream(Files.newInputStream(dir.resolve("journal.log")))) {
            assertThat(in.readInt()).as("format 2 header").isEqualTo(0x414B564A);
            assertThat(in.readInt()).isEqualTo(2);
        }
        try (KvSessionStore store = store(root)) {
            assertThat(store.get("old").length(0, 0)).isEqualTo(41);
            assertThat(store.damage()).isEmpty();
        }
    }

    @Test
    void aDamagedFormatOneJournalIsQuarantinedWhole(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 4);
        Path dir = formatOneSession(root, "old1", 100, rnd);
        long size = Files.size(dir.resolve("journal.log"));
        flip(dir.resolve("journal.log"), size / 2, 16);
        try (KvSessionStore store = store(root)) {
            assertThat(store.get("old1")).isNull();
        }
        assertThat(DamageLog.under(root)).hasSize(1);
        assertThat(Files.size(DamageLog.under(root).getFirst().quarantinedTo().resolve("journal.log"))).isEqualTo(size);
    }

    @Test
    void aDamagedLastRecordIsCutButKeptInTheQuarantineAndATornOneIsCutQuietly(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 5);
        Path journal = root.resolve("z/journal.log");
        long[] ends;
        try (KvSessionStore store = store(root)) {
            ends = appendAll(store.create("z", KvSessionStoreTest.config()), journal, 0, 0, 20, rnd);
        }
        long size = Files.size(journal);
        flip(journal, ends[18] + 40, 4); // inside the last record's body: whole, but its checksum fails
        try (KvSessionStore store = store(root)) {
            assertThat(store.get("z").length(0, 0)).isEqualTo(19);
        }
        assertThat(DamageLog.under(root)).hasSize(1);
        assertThat(DamageLog.under(root).getFirst().reason()).contains("last record");
        assertThat(Files.size(DamageLog.under(root).getFirst().quarantinedTo())).isEqualTo(size);
        // A record cut short (the write never acknowledged) is dropped without a report.
        try (FileChannel ch = FileChannel.open(journal, StandardOpenOption.WRITE)) {
            ch.truncate(Files.size(journal) - 10);
        }
        try (KvSessionStore store = store(root)) {
            assertThat(store.get("z").length(0, 0)).isEqualTo(18);
        }
        assertThat(DamageLog.under(root)).hasSize(1);
    }

    @Test
    void aJournalWhoseIntactRecordDoesNotApplyIsLeftInPlaceAndReported(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 6);
        Path journal = root.resolve("w/journal.log");
        long[] ends;
        try (KvSessionStore store = store(root)) {
            ends = appendAll(store.create("w", KvSessionStoreTest.config()), journal, 0, 0, 10, rnd);
            store.create("fine", KvSessionStoreTest.config());
        }
        // Record 5 removed cleanly (no damage to find): record 6 then names a position that is not next.
        byte[] all = Files.readAllBytes(journal);
        ByteArrayOutputStream cut = new ByteArrayOutputStream();
        cut.write(all, 0, (int) ends[4]);
        cut.write(all, (int) ends[5], all.length - (int) ends[5]);
        Files.write(journal, cut.toByteArray());
        try (KvSessionStore store = store(root)) {
            assertThat(store.get("w")).isNull();
            assertThat(store.get("fine")).isNotNull();
            assertThat(store.unloaded()).singleElement().satisfies(u -> assertThat(u.reason()).contains("out of order"));
            assertThatThrownBy(() -> store.create("w", KvSessionStoreTest.config())).isInstanceOf(IllegalStateException.class);
        }
        assertThat(Files.size(journal)).as("left as found").isEqualTo(cut.size());
        assertThat(DamageLog.under(root)).singleElement().satisfies(d -> assertThat(d.quarantinedTo()).isNull());
    }

    @Test
    void linksAndFilesInTheStoreAreNeverFollowedOrDeleted(@TempDir Path tmp) throws Exception {
        Path root = Files.createDirectories(tmp.resolve("kv"));
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        try (KvSessionStore store = store(outside)) { // a real session, reachable through a link from the store
            store.create("victim", KvSessionStoreTest.config()).append(0, 0, 0, row(new SplittableRandom(SEED)), row(new SplittableRandom(SEED)));
        }
        Files.createSymbolicLink(root.resolve("victim"), outside.resolve("victim"));
        Files.writeString(root.resolve("afile"), "not a session");
        TreeMap<String, Long> before = tree(outside);
        try (KvSessionStore store = store(root)) {
            assertThat(store.ids()).isEmpty();
            assertThat(store.delete("victim")).isFalse();
            assertThatThrownBy(() -> store.create("victim", KvSessionStoreTest.config())).isInstanceOf(IllegalStateException.class);
        }
        assertThat(tree(outside)).isEqualTo(before);
        assertThat(Files.readString(root.resolve("afile"))).isEqualTo("not a session");
    }

    /**
     * Random damage anywhere in a journal of two interleaved heads: the session is either served with each head an
     * exact prefix of what was written (the same answers as a session of those tokens alone) and the damage reported
     * with a whole copy of the journal, or quarantined whole; never truncated, never served wrong.
     */
    @Test
    void randomDamageIsNeverServedAndNeverDestroysTheJournal(@TempDir Path tmp) throws Exception {
        for (int trial = 0; trial < 12; trial++) {
            long seed = SEED * 1000 + trial;
            SplittableRandom rnd = new SplittableRandom(seed);
            Path root = tmp.resolve("t" + trial);
            Path journal = root.resolve("r/journal.log");
            float[][][] keys = new float[2][120][];
            float[][][] values = new float[2][120][];
            try (KvSessionStore store = store(root)) {
                KvSession s = store.create("r", KvSessionStoreTest.config());
                for (int i = 0; i < 120; i++) {
                    for (int h = 0; h < 2; h++) {
                        keys[h][i] = row(rnd);
                        values[h][i] = row(rnd);
                        s.append(0, h, i, keys[h][i], values[h][i]);
                    }
                }
            }
            long size = Files.size(journal);
            long at = trial == 0 ? 0 : rnd.nextLong(size - 16); // trial 0: the file header
            int bytes = 1 + rnd.nextInt(16);
            flip(journal, at, bytes);
            int reportsBefore = DamageLog.under(root).size();
            try (KvSessionStore store = store(root)) {
                KvSession s = store.get("r");
                List<DamageLog.Damage> reports = DamageLog.under(root).subList(reportsBefore, DamageLog.under(root).size());
                System.out.printf("[seed %d] %d bytes flipped at %d of %d: %s%n", seed, bytes, at, size,
                        s == null ? "quarantined" : "served with " + s.length(0, 0) + " + " + s.length(0, 1) + " tokens");
                assertThat(reports).as("[seed %d] reported", seed).hasSize(1);
                Path copy = reports.getFirst().quarantinedTo();
                assertThat(copy).isNotNull();
                assertThat(Files.size(Files.isDirectory(copy) ? copy.resolve("journal.log") : copy)).as("[seed %d] kept whole", seed)
                        .isEqualTo(size);
                if (s != null) {
                    float[] q = row(rnd);
                    for (int h = 0; h < 2; h++) {
                        int n = s.length(0, h);
                        assertThat(n).isBetween(119, 120); // one record lost at most, and only a head's last
                        if (n == 0) {
                            continue;
                        }
                        try (KvSession alone = new KvSession("alone", KvSessionStoreTest.config(), scorer, Runnable::run)) {
                            alone.prefill(0, h, 0, Arrays.copyOf(keys[h], n), Arrays.copyOf(values[h], n), new float[0][]);
                            assertThat(s.attendExact(0, h, q).output()).as("[seed %d] head %d", seed, h)
                                    .containsExactly(alone.attendExact(0, h, q).output(), Offset.offset(1e-5f));
                        }
                    }
                }
            }
        }
    }

    @Test
    void aDamagedFileHeaderLosesNoRecord(@TempDir Path root) throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 7);
        try (KvSessionStore store = store(root)) {
            appendAll(store.create("fh", KvSessionStoreTest.config()), root.resolve("fh/journal.log"), 0, 0, 30, rnd);
        }
        flip(root.resolve("fh/journal.log"), 0, 8);
        try (KvSessionStore store = store(root)) {
            assertThat(store.get("fh").length(0, 0)).isEqualTo(30);
            store.get("fh").append(0, 0, 30, row(rnd), row(rnd));
        }
        assertThat(DamageLog.under(root)).singleElement().satisfies(d -> assertThat(d.reason()).contains("file header"));
        try (KvSessionStore store = store(root)) {
            assertThat(store.get("fh").length(0, 0)).isEqualTo(31);
        }
        assertThat(DamageLog.under(root)).hasSize(1);
    }
}
