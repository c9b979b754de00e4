package dev.attend.index.lucene;

import static dev.attend.index.lucene.DocumentIndexTest.unit;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.index.store.DamageLog;
import dev.attend.index.store.Quarantine;
import dev.attend.index.store.StorageErrors;
import dev.attend.index.store.Tmpfs;
import dev.attend.index.store.TmpfsMounts;
import dev.attend.index.store.UnsupportedFormatException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import org.apache.lucene.codecs.Codec;
import org.apache.lucene.index.CheckIndex;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.store.FilterDirectory;
import org.apache.lucene.store.IOContext;
import org.apache.lucene.store.IndexOutput;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Hostile tests of the document index: files deleted or damaged on disk, a full disk, hostile ids. */
class DocumentIndexDamageTest {

    /** The randomized inputs' seed: {@code -Dattend.test.seed=N} (0 unless set) added to each literal seed. */
    private static final long SEED = Long.getLong("attend.test.seed", 0L);

    @BeforeAll
    static void printSeed() {
        System.out.println("DocumentIndexDamageTest seed " + SEED);
    }

    @TempDir
    Path root;

    @RegisterExtension
    final TmpfsMounts mounts = new TmpfsMounts();

    private static List<DocumentIndex.Entry> docs(int from, int n, int dim, long seed) {
        SplittableRandom rnd = new SplittableRandom(SEED + seed);
        List<DocumentIndex.Entry> out = new ArrayList<>();
        for (int i = from; i < from + n; i++) {
            float[] v = new float[dim];
            for (int j = 0; j < dim; j++) {
                v[j] = (float) rnd.nextGaussian();
            }
            out.add(new DocumentIndex.Entry("d" + i, "title " + i, "words of document " + i + " about libraries and retrieval "
                    + Long.toString(rnd.nextLong(), 36), unit(v)));
        }
        return out;
    }

    private static Path indexWithThreeDocuments(Path dir) throws IOException {
        try (DocumentIndex index = DocumentIndex.open(dir, 4)) {
            index.add(DocumentIndexTest.docs());
            index.commit();
            assertThat(index.knn(unit(0, 0, 1, 0.2f), 1).get(0).score()).isGreaterThan(0.9f);
        }
        return dir;
    }

    private static List<Path> quarantined(Path storeRoot) throws IOException {
        Path q = storeRoot.resolve(Quarantine.DIR);
        if (!Files.isDirectory(q)) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(q)) {
            return s.filter(Files::isRegularFile).toList();
        }
    }

    @Test
    void aDeletedCommitPointQuarantinesTheSegmentsInsteadOfLettingLuceneDeleteThem() throws Exception {
        Path dir = indexWithThreeDocuments(root.resolve("lucene"));
        List<String> segmentFiles;
        try (Stream<Path> s = Files.list(dir)) {
            segmentFiles = s.map(p -> p.getFileName().toString()).filter(n -> !n.equals("write.lock")).toList();
        }
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(p -> p.getFileName().toString().startsWith("segments_")).toList()) {
                Files.delete(p);
            }
        }
        try (DocumentIndex index = DocumentIndex.open(dir, 4)) {
            assertThat(index.size()).isZero(); // an empty index in its place: the server comes up
            index.add(List.of(DocumentIndexTest.docs().get(0)));
            index.commit();
        }
        // every segment file is still there, in the quarantine, and the damage is reported
        List<String> kept = quarantined(root).stream().map(p -> p.getFileName().toString()).toList();
        for (String f : segmentFiles) {
            if (!f.startsWith("segments_")) {
                assertThat(kept).as("quarantined files").contains(f);
            }
        }
        assertThat(DamageLog.under(root)).anySatisfy(d -> {
            assertThat(d.store()).isEqualTo(DocumentIndex.STORE);
            assertThat(d.reason()).contains("no commit point");
            assertThat(d.quarantinedTo()).isNotNull();
        });
        try (DocumentIndex again = DocumentIndex.open(dir, 4)) {
            assertThat(again.damage()).isNull();
            assertThat(again.size()).isEqualTo(1);
        }
    }

    @Test
    void aFlippedByteInASegmentIsFoundAtOpenAndTheIndexMovedAside() throws Exception {
        Path dir = indexWithThreeDocuments(root.resolve("lucene"));
        Path biggest;
        try (Stream<Path> s = Files.list(dir)) {
            biggest = s.filter(p -> !p.getFileName().toString().startsWith("segments_") && !p.getFileName().toString().equals("write.lock"))
                    .max(Comparator.comparingLong(p -> p.toFile().length())).orElseThrow();
        }
        long size = Files.size(biggest);
        try (RandomAccessFile f = new RandomAccessFile(biggest.toFile(), "rw")) {
            long at = size / 2;
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0x5A);
        }
        try (DocumentIndex index = DocumentIndex.open(dir, 4)) {
            assertThat(index.size()).isZero(); // never the damaged values
            assertThat(index.damage()).isNotNull();
            assertThat(index.damage().reason()).containsIgnoringCase("checksum");
        }
        assertThat(DamageLog.under(root)).anySatisfy(d -> assertThat(d.path().getFileName().toString()).isEqualTo("lucene"));
        assertThat(quarantined(root)).anySatisfy(p -> assertThat(p.getFileName().toString()).isEqualTo(biggest.getFileName().toString()));
    }

    @Test
    void aFlippedByteInsideTheStoredVectorsIsFoundAtOpenNotServedAsAnotherScore() throws Exception {
        Path dir = indexWithThreeDocuments(root.resolve("lucene"));
        // the raw little-endian floats of document c's vector, where Lucene keeps them (only its footer checks them)
        float[] c = unit(0, 0, 1, 0.2f);
        ByteBuffer pattern = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : c) {
            pattern.putFloat(x);
        }
        boolean flipped = false;
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                byte[] bytes = Files.readAllBytes(p);
                for (int i = 0; i + 16 <= bytes.length && !flipped; i++) {
                    if (Arrays.equals(bytes, i, i + 16, pattern.array(), 0, 16)) {
                        bytes[i + 11] ^= 0x40; // the exponent byte of c's third component (1/|c|)
                        Files.write(p, bytes);
                        flipped = true;
                    }
                }
            }
        }
        assertThat(flipped).as("found the vector's bytes").isTrue();
        try (DocumentIndex index = DocumentIndex.open(dir, 4)) {
            assertThat(index.damage()).isNotNull();
            assertThat(index.knn(unit(0, 0, 1, 0.2f), 1)).isEmpty(); // no wrong score: the damaged index is not served
        }
        assertThat(quarantined(root)).isNotEmpty();
    }

    @Test
    void aTruncatedSegmentFileIsDamageToo() throws Exception {
        Path dir = indexWithThreeDocuments(root.resolve("lucene"));
        Path biggest;
        try (Stream<Path> s = Files.list(dir)) {
            biggest = s.filter(p -> !p.getFileName().toString().startsWith("segments_") && !p.getFileName().toString().equals("write.lock"))
                    .max(Comparator.comparingLong(p -> p.toFile().length())).orElseThrow();
        }
        try (RandomAccessFile f = new RandomAccessFile(biggest.toFile(), "rw")) {
            f.setLength(f.length() - 7);
        }
        try (DocumentIndex index = DocumentIndex.open(dir, 4)) {
            assertThat(index.size()).isZero();
            assertThat(index.damage()).isNotNull();
        }
    }

    @Test
    void checkingSegmentsAtOpenCostsLittleForThousandsOfDocuments() throws Exception {
        Path dir = root.resolve("lucene");
        int dim = 384;
        try (DocumentIndex index = DocumentIndex.open(dir, dim)) {
            for (int from = 0; from < 3000; from += 500) {
                index.add(docs(from, 500, dim, from));
            }
            index.commit();
        }
        long verifyNanos;
        long bytes;
        try (DocumentIndex index = DocumentIndex.open(dir, dim)) {
            assertThat(index.size()).isEqualTo(3000);
            assertThat(index.damage()).isNull();
            assertThat(index.verifiedBytes()).isGreaterThan(3000L * dim * 4);
            verifyNanos = index.verifyNanos();
            bytes = index.verifiedBytes();
        }
        long check;
        try (Directory d = FSDirectory.open(dir); CheckIndex c = new CheckIndex(d)) {
            long t = System.nanoTime();
            assertThat(c.checkIndex().clean).isTrue();
            check = System.nanoTime() - t;
        }
        System.out.printf("verify at open: checkIntegrity of every segment, 3000 documents of %d dims, %.1f MB: %.1f ms;"
                + " full CheckIndex: %.1f ms%n", dim, bytes / 1e6, verifyNanos / 1e6, check / 1e6);
    }

    /** Throws "No space left on device" when armed, as a full disk does, wherever Lucene creates or writes a file. */
    private static final class FullWhenArmed extends FilterDirectory {
        final AtomicBoolean armed = new AtomicBoolean();

        FullWhenArmed(Directory in) {
            super(in);
        }

        @Override
        public IndexOutput createOutput(String name, IOContext context) throws IOException {
            if (armed.get()) {
                throw new IOException("No space left on device");
            }
            return super.createOutput(name, context);
        }

        @Override
        public IndexOutput createTempOutput(String prefix, String suffix, IOContext context) throws IOException {
            if (armed.get()) {
                throw new IOException("No space left on device");
            }
            return super.createTempOutput(prefix, suffix, context);
        }
    }

    @Test
    void aFullDiskFailsTheWholeWriteAndTheNextWriteAfterSpaceReturnsWorks() throws Exception {
        Path mnt = Files.createDirectories(root.resolve("mnt"));
        Tmpfs mounted = mounts.mount(mnt, "2m");
        boolean tmpfs = mounted != null;
        System.out.println("full-disk test of the document index: " + (tmpfs ? "a real 2 MB tmpfs filled up"
                : "mounting refused here, so an injected 'No space left on device' IOException"));
        Path dir = mnt.resolve("lucene");
        FullWhenArmed[] injected = new FullWhenArmed[1];
        Path filler = mnt.resolve("filler");
        int dim = 16;
        try (DocumentIndex index = tmpfs ? DocumentIndex.open(dir, dim)
                : DocumentIndex.open(dir, dim, d -> injected[0] = new FullWhenArmed(d))) {
            index.atomically(() -> index.add(docs(0, 20, dim, 1)));
            assertThat(index.size()).isEqualTo(20);
            if (tmpfs) {
                Tmpfs.fill(filler);
            } else {
                injected[0].armed.set(true);
            }
            // one request: its documents and its commit apply whole or not at all
            assertThatThrownBy(() -> index.atomically(() -> {
                index.add(docs(20, 200, dim, 2));
                index.delete("d3");
            })).isInstanceOf(StorageErrors.StorageFullException.class).hasMessageContaining("full");
            assertThat(index.size()).isEqualTo(20);
            assertThat(index.get("d25")).isEmpty();
            assertThat(index.get("d3")).isPresent();
            // an add outside a transaction, then its commit: the failure rolls back to the last commit
            assertThatThrownBy(() -> {
                index.add(docs(20, 200, dim, 3));
                index.commit();
            }).isInstanceOf(StorageErrors.StorageFullException.class);
            assertThat(index.size()).isEqualTo(20);
            assertThat(index.bm25("libraries", 5)).hasSize(5);
            // space returns: the next write works without a restart, and is durable
            if (tmpfs) {
                Files.delete(filler);
            } else {
                injected[0].armed.set(false);
            }
            index.atomically(() -> index.add(docs(20, 30, dim, 4)));
            assertThat(index.size()).isEqualTo(50);
            assertThat(index.delete("d3")).isTrue();
            index.commit();
        }
        try (DocumentIndex again = DocumentIndex.open(dir, dim)) {
            assertThat(again.size()).isEqualTo(49);
            assertThat(again.get("d49")).isPresent();
            assertThat(again.damage()).isNull();
        }
        assertThat(DamageLog.under(mnt)).isEmpty();
    }

    @Test
    void hostileIdsAreRefusedWithoutEchoingThem() throws Exception {
        try (DocumentIndex index = DocumentIndex.open(root.resolve("lucene"), 4)) {
            index.add(DocumentIndexTest.docs());
            String huge = "x".repeat(10_000);
            assertThatThrownBy(() -> index.get(huge)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("at most " + DocumentIndex.MAX_ID_CHARS)
                    .satisfies(e -> assertThat(e.getMessage()).hasSizeLessThan(200));
            assertThatThrownBy(() -> index.delete(huge)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> index.add(List.of(new DocumentIndex.Entry("a\u0000b", "t", "w", unit(1, 0, 0, 0)))))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("control character").hasMessageContaining("\\u0000");
            assertThatThrownBy(() -> index.add(List.of(new DocumentIndex.Entry("a\uD800b", "t", "w", unit(1, 0, 0, 0)))))
                    .hasMessageContaining("surrogate");
            assertThat(index.get("a\nb")).isEmpty(); // a lookup of any bounded text: older indexes may hold such ids
            assertThatThrownBy(() -> index.get(" ")).hasMessageContaining("missing");
            assertThat(index.get("MED-10:ü/😀")).isEmpty(); // any other printable text is a valid id
            assertThat(index.size()).isEqualTo(3);
        }
    }

    /** Rewrites the commit point's bytes with {@code edit} and a footer checksum that holds again (an intact file). */
    private static void rewriteCommitPoint(Path dir, Consumer<byte[]> edit) throws IOException {
        Path segments;
        try (Stream<Path> s = Files.list(dir)) {
            segments = s.filter(p -> p.getFileName().toString().startsWith("segments_")).findFirst().orElseThrow();
        }
        byte[] b = Files.readAllBytes(segments);
        edit.accept(b);
        CRC32 crc = new CRC32();
        crc.update(b, 0, b.length - 8);
        ByteBuffer.wrap(b, b.length - 8, 8).putLong(crc.getValue());
        Files.write(segments, b);
    }

    private static Map<String, String> contents(Path dir) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(p -> !p.getFileName().toString().equals("write.lock")).toList()) {
                out.put(p.getFileName().toString(), HexFormat.of().formatHex(
                        MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p))));
            }
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
        return out;
    }

    @Test
    void anIntactIndexOfAnotherLuceneVersionOrWithAMissingCodecIsLeftInPlaceReportedAndRefused() throws Exception {
        String codec = Codec.getDefault().getName();
        for (String how : new String[] {"newer format", "missing codec"}) {
            Path store = Files.createDirectories(root.resolve(how.replace(' ', '-')));
            Path dir = indexWithThreeDocuments(store.resolve("lucene"));
            rewriteCommitPoint(dir, b -> {
                if (how.equals("newer format")) { // the header's version: [magic][vint 8 "segments"][int version]
                    ByteBuffer.wrap(b, 13, 4).putInt(ByteBuffer.wrap(b, 13, 4).getInt() + 100);
                } else { // the codec every segment names, as a build without that codec's SPI sees it
                    byte[] name = codec.getBytes(StandardCharsets.US_ASCII);
                    int found = 0;
                    for (int i = 0; i + name.length <= b.length - 16; i++) {
                        if (Arrays.equals(b, i, i + name.length, name, 0, name.length)) {
                            b[i] = 'X';
                            found++;
                        }
                    }
                    assertThat(found).isPositive();
                }
            });
            var before = contents(dir);
            assertThatThrownBy(() -> DocumentIndex.open(dir, 4)).as(how).isInstanceOf(UnsupportedFormatException.class)
                    .hasMessageContaining(dir.toString()).hasMessageContaining("left as it is");
            assertThat(contents(dir)).as(how).isEqualTo(before); // not moved, not written over, nothing deleted
            assertThat(quarantined(store)).isEmpty();
            assertThat(DamageLog.under(store)).singleElement().satisfies(d -> {
                assertThat(d.quarantinedTo()).isNull();
                assertThat(d.reason()).contains("left in place");
            });
        }
    }

    /** Fails every sync while armed (a commit that cannot be made durable). */
    private static final class SyncFailsWhenArmed extends FilterDirectory {
        final AtomicBoolean armed = new AtomicBoolean();

        SyncFailsWhenArmed(Directory in) {
            super(in);
        }

        @Override
        public void sync(Collection<String> names) throws IOException {
            if (armed.get()) {
                throw new IOException("Input/output error (injected at sync)");
            }
            super.sync(names);
        }
    }

    private static boolean elsewhere(ExecutorService other, Callable<Boolean> search)
            throws IOException {
        try {
            return other.submit(search).get();
        } catch (InterruptedException | ExecutionException e) {
            throw new IOException(e);
        }
    }

    @Test
    void searchesNeverSeeTheDocumentsOfAnAtomicWriteBeforeItsCommitNorAfterItFails() throws Exception {
        SyncFailsWhenArmed[] injected = new SyncFailsWhenArmed[1];
        int dim = 8;
        try (DocumentIndex index = DocumentIndex.open(root.resolve("lucene"), dim, d -> injected[0] = new SyncFailsWhenArmed(d))) {
            index.atomically(() -> index.add(docs(0, 5, dim, 1)));
            assertThat(index.size()).isEqualTo(5);
            ExecutorService other = Executors.newSingleThreadExecutor();
            try {
                boolean[] seen = new boolean[2];
                injected[0].armed.set(true);
                assertThatThrownBy(() -> index.atomically(() -> {
                    index.add(docs(5, 5, dim, 2));
                    index.delete("d0");
                    // another request's search, while this one is not committed yet
                    seen[0] = elsewhere(other, () -> index.get("d7").isPresent() || index.size() != 5 || index.get("d0").isEmpty());
                })).isInstanceOf(IOException.class);
                assertThat(seen[0]).as("uncommitted writes seen by a search").isFalse();
                assertThat(index.size()).isEqualTo(5);
                assertThat(index.get("d0")).isPresent();
                injected[0].armed.set(false);
                index.atomically(() -> {
                    index.add(docs(5, 5, dim, 2));
                    seen[1] = elsewhere(other, () -> index.get("d7").isPresent());
                });
                assertThat(seen[1]).isFalse();
                assertThat(index.get("d7")).isPresent(); // committed: visible as soon as atomically returns
                assertThat(index.size()).isEqualTo(10);
                index.add(docs(10, 1, dim, 3)); // outside a transaction: visible at once, as before
                assertThat(index.get("d10")).isPresent();
            } finally {
                other.shutdownNow();
            }
        }
    }
}
