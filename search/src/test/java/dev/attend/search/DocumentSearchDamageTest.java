package dev.attend.search;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.index.store.DamageLog;
import dev.attend.index.store.DurableFile;
import dev.attend.index.store.Quarantine;
import dev.attend.index.store.StorageErrors;
import dev.attend.index.store.Tmpfs;
import dev.attend.index.store.TmpfsMounts;
import dev.attend.index.store.UnsupportedFormatException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Hostile tests of the files document search keeps: a damaged modulation or vocabulary, a damaged index, a full disk. */
class DocumentSearchDamageTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("DocumentSearchDamageTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    @TempDir
    Path dir;

    @RegisterExtension
    final TmpfsMounts mounts = new TmpfsMounts();

    /** A small deterministic encoder: words hashed into 8 buckets, plus a constant, normalised. */
    static final TextEmbedder HASHED = new TextEmbedder() {
        @Override
        public int dim() {
            return 8;
        }

        @Override
        public float[] embed(String text) {
            float[] v = new float[8];
            v[0] = 1;
            for (String w : text.toLowerCase(Locale.ROOT).split("\\W+")) {
                if (!w.isEmpty()) {
                    v[1 + Math.floorMod(w.hashCode(), 7)] += 1;
                }
            }
            double n = 0;
            for (float x : v) {
                n += x * x;
            }
            for (int i = 0; i < 8; i++) {
                v[i] /= (float) Math.sqrt(n);
            }
            return v;
        }
    };

    private static List<Document> corpus(int from, int n) {
        List<Document> out = new ArrayList<>();
        for (int i = from; i < from + n; i++) {
            out.add(new Document("doc-" + i, "Title " + i, "Words about libraries, retrieval and cataloguing, number " + i + " "
                    + "x".repeat(200)));
        }
        return out;
    }

    /** A search with documents and a fitted (random) modulation, closed. */
    private Path searchWithModulation() throws IOException {
        Path d = dir.resolve("search");
        try (DocumentSearch s = DocumentSearch.open(d, HASHED)) {
            s.add(corpus(0, 20), (done, total) -> { });
            Vocabulary v = s.currentVocabulary(DocumentSearch.Tokens.TERMS);
            LexSemModulation m = new LexSemModulation(v.size(), 8);
            SplittableRandom rnd = new SplittableRandom(SEED + 5);
            for (int i = 0; i < m.w.length; i++) {
                m.w[i] = (float) rnd.nextGaussian();
            }
            s.setModulation(v, m, true, DocumentSearch.Tokens.TERMS);
        }
        return d;
    }

    private static void flipMiddleByte(Path file) throws IOException {
        long size = Files.size(file);
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(size / 2);
            int b = f.read();
            f.seek(size / 2);
            f.write(b ^ 0x01);
        }
    }

    private static List<String> quarantined(Path d) throws IOException {
        Path q = d.resolve(Quarantine.DIR);
        if (!Files.isDirectory(q)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(q)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> !n.endsWith(".reason")).toList();
        }
    }

    @Test
    void aDamagedModulationIsMovedAsideAndTheSearchRunsWithoutIt() throws Exception {
        for (String damaged : List.of(LexicalFiles.MODULATION_FILE, LexicalFiles.VOCABULARY_FILE, LexicalFiles.SETTINGS_FILE)) {
            Path d = searchWithModulation();
            flipMiddleByte(d.resolve(damaged));
            try (DocumentSearch s = DocumentSearch.open(d, HASHED)) {
                assertThat(s.modulation()).as(damaged).isNull(); // never other weights
                assertThat(s.modulationDamage()).as(damaged).isNotNull();
                assertThat(s.damage()).hasSize(1);
                assertThat(s.search("libraries", DocumentSearch.Mode.RRF, 3)).hasSize(3); // the rest works
                assertThatThrownBy(() -> s.search("libraries", DocumentSearch.Mode.LEXSEM, 3)).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("damaged");
            }
            assertThat(quarantined(d)).as(damaged).hasSize(3).anyMatch(n -> n.endsWith(damaged));
            assertThat(DamageLog.under(d)).anySatisfy(x -> assertThat(x.path().getFileName().toString()).isEqualTo(damaged));
            try (DocumentSearch s = DocumentSearch.open(d, HASHED)) { // moved aside: reported once, not at every start
                assertThat(s.damage()).isEmpty();
            }
            deleteTree(d);
        }
    }

    @Test
    void filesOfTheFormerUncheckedFormatsStillLoad() throws Exception {
        Path d = searchWithModulation();
        Vocabulary v;
        LexSemModulation m;
        try (DocumentSearch s = DocumentSearch.open(d, HASHED)) {
            v = s.vocabulary();
            m = s.modulation();
        }
        assertThat(DurableFile.isFramed(d.resolve(LexicalFiles.VOCABULARY_FILE))).isTrue();
        v.saveText(d.resolve(LexicalFiles.VOCABULARY_FILE));
        ModulationFile.saveUnframed(m, d.resolve(LexicalFiles.MODULATION_FILE));
        Files.writeString(d.resolve(LexicalFiles.SETTINGS_FILE), "idf-weights=true\ntokens=terms\n");
        try (DocumentSearch s = DocumentSearch.open(d, HASHED)) {
            assertThat(s.damage()).isEmpty();
            assertThat(s.vocabulary().size()).isEqualTo(v.size());
            assertThat(s.modulation().w).containsExactly(m.w);
            assertThat(s.search("libraries", DocumentSearch.Mode.LEXSEM, 3)).hasSize(3);
        }
    }

    @Test
    void aDamagedIndexIsReportedByTheSearchWhichOpensEmpty() throws Exception {
        Path d = searchWithModulation();
        try (Stream<Path> s = Files.list(d.resolve("lucene"))) {
            for (Path p : s.filter(p -> p.getFileName().toString().startsWith("segments_")).toList()) {
                Files.delete(p);
            }
        }
        try (DocumentSearch s = DocumentSearch.open(d, HASHED)) {
            assertThat(s.index().size()).isZero();
            assertThat(s.damage()).singleElement().satisfies(x -> assertThat(x.reason()).contains("no commit point"));
            s.add(corpus(0, 3), (done, total) -> { });
            assertThat(s.index().size()).isEqualTo(3);
        }
        assertThat(quarantined(d)).anyMatch(n -> n.endsWith("-lucene"));
    }

    @Test
    void aRequestWithABadIdAddsNothing() throws Exception {
        try (DocumentSearch s = DocumentSearch.open(dir.resolve("search"), HASHED)) {
            List<Document> docs = new ArrayList<>(corpus(0, 40));
            docs.add(new Document("bad\u0007id", "t", "w"));
            assertThatThrownBy(() -> s.add(docs, (done, total) -> { })).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("document 40").hasMessageContaining("control character");
            assertThat(s.index().size()).isZero();
            s.add(corpus(0, 2), (done, total) -> { });
            assertThat(s.delete("doc-1")).isTrue();
            assertThat(s.delete("doc-1")).isFalse();
        }
        try (DocumentSearch s = DocumentSearch.open(dir.resolve("search"), HASHED)) {
            assertThat(s.index().size()).isEqualTo(1); // the delete was committed
        }
    }

    @Test
    void aFullDiskRefusesTheWholeRequestAndTheNextOneWorks() throws Exception {
        Path mnt = Files.createDirectories(dir.resolve("mnt"));
        Tmpfs mounted = mounts.mount(mnt, "2m");
        boolean tmpfs = mounted != null;
        System.out.println("full-disk test of document search: " + (tmpfs ? "a real 2 MB tmpfs filled up"
                : "mounting refused here: skipped (DocumentIndexDamageTest injects the failure in the index module)"));
        if (!tmpfs) {
            return;
        }
        Path d = mnt.resolve("search");
        Path filler = mnt.resolve("filler");
        try (DocumentSearch s = DocumentSearch.open(d, HASHED)) {
            s.add(corpus(0, 10), (done, total) -> { });
            Vocabulary v = s.currentVocabulary(DocumentSearch.Tokens.TERMS);
            s.setModulation(v, new LexSemModulation(v.size(), 8), false, DocumentSearch.Tokens.TERMS);
            Tmpfs.fill(filler);
            assertThatThrownBy(() -> s.add(corpus(10, 300), (done, total) -> { })).isInstanceOf(StorageErrors.StorageFullException.class);
            assertThat(s.index().size()).isEqualTo(10);
            Vocabulary bigger = Vocabulary.of(Map.of("a", 1, "b", 2, "c", 1), 3);
            LexSemModulation other = new LexSemModulation(3, 8);
            assertThatThrownBy(() -> s.setModulation(bigger, other, true, DocumentSearch.Tokens.TERMS))
                    .isInstanceOf(StorageErrors.StorageFullException.class);
            assertThat(s.vocabulary().size()).isEqualTo(v.size()); // the previous one stays in use
            Files.delete(filler);
            s.add(corpus(10, 5), (done, total) -> { });
            assertThat(s.index().size()).isEqualTo(15);
        }
        try (DocumentSearch s = DocumentSearch.open(d, HASHED)) {
            assertThat(s.index().size()).isEqualTo(15);
            assertThat(s.damage()).isEmpty();
            assertThat(s.modulation()).isNotNull();
        }
    }

    private static void deleteTree(Path d) throws IOException {
        try (Stream<Path> s = Files.walk(d)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    private static void copyModulation(Path from, Path to, String... names) throws IOException {
        Files.createDirectories(to);
        for (String n : names) {
            Files.copy(from.resolve(n), to.resolve(n), StandardCopyOption.REPLACE_EXISTING);
        }
    }

    @Test
    void filesOfTwoFitsLeftTogetherByACrashBetweenThemAreDamageNotAWrongTermMapping() throws Exception {
        String[] all = {LexicalFiles.VOCABULARY_FILE, LexicalFiles.MODULATION_FILE, LexicalFiles.SETTINGS_FILE};
        // a crash after the new vocabulary; after the new vocabulary and modulation, before the settings
        for (String[] fromOldFit : new String[][] {{LexicalFiles.MODULATION_FILE, LexicalFiles.SETTINGS_FILE}, {LexicalFiles.SETTINGS_FILE}}) {
            Path d = searchWithModulation();
            Path fitA = dir.resolve("fit-a");
            copyModulation(d, fitA, all);
            try (DocumentSearch s = DocumentSearch.open(d, HASHED)) {
                Vocabulary a = s.vocabulary();
                Map<String, Integer> df = new HashMap<>();
                for (int i = 0; i < a.size(); i++) {
                    df.put(i == 0 ? "aaaa-first" : a.term(i), a.documentFrequency(i)); // the same size, every row shifted
                }
                Vocabulary b = Vocabulary.of(df, 20);
                assertThat(b.size()).isEqualTo(a.size());
                LexSemModulation m = new LexSemModulation(b.size(), 8);
                SplittableRandom rnd = new SplittableRandom(SEED + 6);
                for (int i = 0; i < m.w.length; i++) {
                    m.w[i] = (float) rnd.nextGaussian();
                }
                s.setModulation(b, m, true, DocumentSearch.Tokens.TERMS);
            }
            copyModulation(fitA, d, fromOldFit);
            try (DocumentSearch s = DocumentSearch.open(d, HASHED)) {
                assertThat(s.modulation()).as(String.join(",", fromOldFit)).isNull(); // never rows of another vocabulary
                assertThat(s.modulationDamage()).isNotNull();
                assertThat(s.modulationDamage().reason()).contains("not of one fit");
                assertThat(s.search("libraries", DocumentSearch.Mode.RRF, 3)).hasSize(3);
            }
            assertThat(quarantined(d)).hasSize(3);
            deleteTree(d);
            deleteTree(fitA);
        }
    }

    @Test
    void anIntactModulationThisBuildCannotReadIsLeftInPlaceAndTheSearchRefusesToOpen() throws Exception {
        for (String which : List.of(LexicalFiles.MODULATION_FILE, LexicalFiles.SETTINGS_FILE)) {
            Path d = searchWithModulation();
            Path f = d.resolve(which);
            if (which.equals(LexicalFiles.MODULATION_FILE)) { // a newer build's modulation: intact, framed version 2
                byte[] payload;
                try (DurableFile.Reader r = DurableFile.open(f, ModulationFile.CODEC, 1, 1)) {
                    payload = r.in().readNBytes((int) r.payloadBytes());
                }
                DurableFile.write(f, ModulationFile.CODEC, ModulationFile.FRAMED_VERSION + 1, out -> out.write(payload));
            } else { // settings naming a token kind this build does not know, checksum intact
                DurableFile.write(f, LexicalFiles.SETTINGS_CODEC, 1, out -> out.writeUTF("idf-weights=true\ntokens=future-pieces\n"));
            }
            byte[] before = Files.readAllBytes(f);
            assertThatThrownBy(() -> DocumentSearch.open(d, HASHED)).as(which).isInstanceOf(UnsupportedFormatException.class)
                    .hasMessageContaining(which).hasMessageContaining("left");
            assertThat(Files.readAllBytes(f)).isEqualTo(before);
            assertThat(quarantined(d)).isEmpty();
            assertThat(DamageLog.under(f)).singleElement().satisfies(x -> assertThat(x.quarantinedTo()).isNull());
            deleteTree(d);
        }
    }
}
