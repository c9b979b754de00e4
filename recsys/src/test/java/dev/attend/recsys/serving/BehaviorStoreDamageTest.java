package dev.attend.recsys.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.index.store.DamageLog;
import dev.attend.index.store.Quarantine;
import dev.attend.index.store.StorageErrors;
import dev.attend.index.store.Tmpfs;
import dev.attend.index.store.TmpfsMounts;
import dev.attend.index.store.UnsupportedFormatException;
import dev.attend.recsys.data.BehaviorEvent;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Hostile tests of the behaviour store's log: a full disk in the middle of a batch, damaged records in the middle. */
class BehaviorStoreDamageTest {

    @TempDir
    Path root;

    @RegisterExtension
    final TmpfsMounts mounts = new TmpfsMounts();

    private static List<BehaviorEvent> batch(long user, int from, int n) {
        List<BehaviorEvent> out = new ArrayList<>();
        for (int i = from; i < from + n; i++) {
            out.add(new BehaviorEvent(user, i, i % 7, i % 5 == 0 ? "buy" : "pv", 1000L + i));
        }
        return out;
    }

    private static List<Path> quarantined(Path dir) throws IOException {
        Path q = dir.resolve(Quarantine.DIR);
        if (!Files.isDirectory(q)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(q)) {
            return s.filter(p -> !p.getFileName().toString().endsWith(".reason")).toList();
        }
    }

    @Test
    void aBatchThatHitsAFullDiskAppliesNothingAndTheNextOneAfterSpaceReturnsIsKept() throws Exception {
        Path mnt = Files.createDirectories(root.resolve("mnt"));
        Tmpfs mounted = mounts.mount(mnt, "2m");
        boolean tmpfs = mounted != null;
        System.out.println("full-disk test of the behaviour store: " + (tmpfs ? "a real 2 MB tmpfs filled up"
                : "mounting refused here, so an injected 'No space left on device' after part of the batch is written"));
        Path dir = mnt.resolve("behaviors");
        Path log = dir.resolve(BehaviorSequenceStore.LOG_FILE);
        Path filler = mnt.resolve("filler");
        long before;
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1_000_000, true)) {
            assertThat(store.append(batch(1, 0, 100))).isEqualTo(100);
            before = Files.size(log);
            if (tmpfs) {
                Tmpfs.fill(filler);
            } else {
                store.logWrite((ch, buf, at) -> {
                    ByteBuffer part = buf.duplicate();
                    part.limit(part.position() + part.remaining() / 2);
                    int n = ch.write(part, at);
                    buf.position(buf.position() + n);
                    if (buf.hasRemaining()) {
                        throw new IOException("No space left on device");
                    }
                    return n;
                });
            }
            assertThatThrownBy(() -> store.append(batch(2, 0, 30_000))).isInstanceOf(StorageErrors.StorageFullException.class)
                    .hasMessageContaining("not stored or applied");
            assertThat(store.get(2).length()).isZero(); // memory unchanged
            assertThat(store.events()).isEqualTo(100);
            assertThat(Files.size(log)).isEqualTo(before); // the file cut back
            if (tmpfs) {
                Files.delete(filler);
            } else {
                store.logWrite(FileChannel::write);
            }
            assertThat(store.append(batch(3, 0, 1))).isEqualTo(1); // acknowledged after space returned
        }
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1_000_000, true)) {
            assertThat(store.get(1).length()).isEqualTo(100);
            assertThat(store.get(2).length()).isZero(); // the refused batch: none of it, not 79 of 100
            assertThat(store.get(3).length()).isEqualTo(1); // the acknowledged one: kept
        }
        assertThat(DamageLog.under(mnt)).isEmpty();
    }

    @Test
    void aDamagedRecordInTheMiddleIsSkippedTheRecordsAfterItKeptAndTheLogQuarantined() throws Exception {
        Path dir = root.resolve("behaviors");
        Path log = dir.resolve(BehaviorSequenceStore.LOG_FILE);
        long afterFirst;
        long afterSecond;
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true)) {
            store.append(batch(1, 0, 50));
            afterFirst = Files.size(log);
            store.append(batch(2, 0, 50));
            afterSecond = Files.size(log);
            store.append(batch(3, 0, 50));
        }
        long size = Files.size(log);
        byte[] original = Files.readAllBytes(log);
        try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "rw")) { // a bit flips inside the second batch
            long at = (afterFirst + afterSecond) / 2;
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0x04);
        }
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true)) {
            assertThat(store.get(1).length()).isEqualTo(50);
            assertThat(store.get(2).length()).isZero(); // the damaged batch: skipped whole, never half
            assertThat(store.get(3).length()).isEqualTo(50); // after the damage: kept
            store.append(batch(4, 0, 10));
        }
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true)) {
            assertThat(store.get(1).length()).isEqualTo(50);
            assertThat(store.get(3).length()).isEqualTo(50);
            assertThat(store.get(4).length()).isEqualTo(10);
        }
        List<Path> q = quarantined(dir);
        assertThat(q).hasSize(1);
        assertThat(Files.size(q.get(0))).isEqualTo(size); // the damaged log, whole
        byte[] kept = Files.readAllBytes(q.get(0));
        int differing = 0;
        for (int i = 0; i < kept.length; i++) {
            differing += kept[i] != original[i] ? 1 : 0;
        }
        assertThat(differing).isEqualTo(1);
        assertThat(DamageLog.under(dir)).singleElement().satisfies(d -> {
            assertThat(d.store()).isEqualTo(BehaviorSequenceStore.STORE);
            assertThat(d.reason()).contains("skipped").contains("kept");
        });
    }

    @Test
    void aDamagedHeaderBeforeValidRecordsIsSkippedLikeOtherDamage() throws Exception {
        Path dir = root.resolve("behaviors");
        Path log = dir.resolve(BehaviorSequenceStore.LOG_FILE);
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true)) {
            store.append(batch(1, 0, 30));
            store.append(batch(2, 0, 30));
        }
        byte[] bytes = Files.readAllBytes(log);
        bytes[1] ^= 0x20;
        Files.write(log, bytes);
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true)) {
            assertThat(store.events()).isEqualTo(60);
        }
        assertThat(DamageLog.under(dir)).singleElement().satisfies(d -> assertThat(d.reason()).contains("header"));
        assertThat(quarantined(dir)).hasSize(1);
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true)) {
            assertThat(store.events()).isEqualTo(60);
        }
    }

    /** A log of the first format (one record per event), as the previous build wrote it. */
    private static byte[] formatOneLog(List<BehaviorEvent> events) {
        ByteBuffer buf = ByteBuffer.allocate(8 + events.size() * 200).order(ByteOrder.LITTLE_ENDIAN);
        buf.putInt(0x41424531).putInt(1);
        CRC32C crc = new CRC32C();
        for (BehaviorEvent e : events) {
            byte[] action = e.action().getBytes(StandardCharsets.UTF_8);
            int start = buf.position();
            int payload = 34 + action.length;
            buf.putInt(payload).putInt(0);
            buf.putLong(e.user()).putLong(e.item()).putLong(e.category()).putLong(e.time());
            buf.putShort((short) action.length).put(action);
            crc.reset();
            crc.update(buf.array(), start + 8, payload);
            buf.putInt(start + 4, (int) crc.getValue());
        }
        byte[] out = new byte[buf.position()];
        buf.flip().get(out);
        return out;
    }

    @Test
    void aLogOfTheFirstFormatIsReadDamageInItSkippedAndItIsRewrittenInTheNewFormat() throws Exception {
        Path dir = Files.createDirectories(root.resolve("behaviors"));
        Path log = dir.resolve(BehaviorSequenceStore.LOG_FILE);
        List<BehaviorEvent> events = new ArrayList<>(batch(1, 0, 40));
        events.addAll(batch(2, 0, 40));
        byte[] bytes = formatOneLog(events);
        Files.write(log, bytes);
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true)) {
            assertThat(store.events()).isEqualTo(80);
        }
        bytes[8 + 20 * 50 + 20] ^= 0x01; // inside the 21st event's record (records of "pv"/"buy": 44 or 45 bytes; still within user 1)
        Files.write(log, bytes);
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true)) {
            assertThat(store.events()).isEqualTo(79); // one event lost, not the 59 after it
            assertThat(store.get(2).length()).isEqualTo(40);
            store.append(batch(3, 0, 5));
        }
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true)) {
            assertThat(store.events()).isEqualTo(84);
        }
        assertThat(DamageLog.under(dir)).hasSize(1);
        assertThat(quarantined(dir)).hasSize(1);
    }

    @Test
    void aBatchTooLargeForOneRecordIsRefusedWhole(@TempDir Path dir) throws Exception {
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 10, false)) {
            List<BehaviorEvent> huge = new ArrayList<>();
            String action = "a".repeat(64);
            for (int i = 0; i < BehaviorLogFormat.MAX_RECORD_BYTES / 98 + 10; i++) {
                huge.add(new BehaviorEvent(1, i, 0, action, i));
            }
            assertThatThrownBy(() -> store.append(huge)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("per batch");
            assertThat(store.events()).isZero();
        }
    }

    private static void flipBit(Path file, long at, int mask) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ mask);
        }
    }

    /** Three fsync'd batches of 20 events (users 1, 2, 3); returns the log's size after each. */
    private static long[] threeBatches(Path dir) throws IOException {
        Path log = dir.resolve(BehaviorSequenceStore.LOG_FILE);
        long[] sizes = new long[3];
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true)) {
            for (int u = 1; u <= 3; u++) {
                store.append(batch(u, 0, 20));
                sizes[u - 1] = Files.size(log);
            }
        }
        return sizes;
    }

    @Test
    void damageInTheLastRecordIsCopiedToTheQuarantineAndReportedBeforeItIsCut() throws Exception {
        for (boolean inMagic : new boolean[] {true, false}) {
            Path dir = root.resolve(inMagic ? "magic" : "body");
            Path log = dir.resolve(BehaviorSequenceStore.LOG_FILE);
            long[] sizes = threeBatches(dir);
            flipBit(log, inMagic ? sizes[1] + 1 : (sizes[1] + sizes[2]) / 2, 0x01); // one bit of the last record
            byte[] damaged = Files.readAllBytes(log);
            try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true)) {
                assertThat(store.events()).isEqualTo(40);
                assertThat(store.get(3).length()).isZero();
            }
            List<Path> q = quarantined(dir);
            assertThat(q).as(inMagic ? "magic" : "body").hasSize(1);
            assertThat(Files.readAllBytes(q.get(0))).isEqualTo(damaged); // the whole log as it was found
            assertThat(DamageLog.under(dir)).singleElement().satisfies(d -> {
                assertThat(d.quarantinedTo()).isEqualTo(q.get(0));
                assertThat(d.reason()).contains("damaged, not a write cut short");
            });
        }
    }

    @Test
    void aWriteCutShortByACrashOrAnAllZeroTailIsCutWithoutAReport() throws Exception {
        Path dir = root.resolve("behaviors");
        Path log = dir.resolve(BehaviorSequenceStore.LOG_FILE);
        long[] sizes = threeBatches(dir);
        byte[] whole = Files.readAllBytes(log);
        // a strict prefix of the last record: inside its header (the magic only), just after it, half its payload
        for (long cut : new long[] {sizes[1] + 3, sizes[1] + 16, sizes[1] + 17, (sizes[1] + sizes[2]) / 2, sizes[2] - 1}) {
            Files.write(log, Arrays.copyOf(whole, (int) cut));
            try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true)) {
                assertThat(store.events()).as("cut at %d", cut).isEqualTo(40);
            }
        }
        Files.write(log, Arrays.copyOf(whole, (int) sizes[2] + 4096)); // the file grew, the data never landed
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true)) {
            assertThat(store.events()).isEqualTo(60);
        }
        assertThat(Files.size(log)).isEqualTo(sizes[2]);
        assertThat(DamageLog.under(dir)).isEmpty();
        assertThat(quarantined(dir)).isEmpty();
    }

    @Test
    void whenNoCopyCanBeKeptTheDamagedLogIsLeftAsItIsAndTheDamageSkippedAgainAtEachOpen() throws Exception {
        Path dir = root.resolve("behaviors");
        Path log = dir.resolve(BehaviorSequenceStore.LOG_FILE);
        long[] sizes = threeBatches(dir);
        Files.writeString(dir.resolve(Quarantine.DIR), "a file where the quarantine folder would go");
        flipBit(log, (sizes[0] + sizes[1]) / 2, 0x04); // damage in the middle (the second batch)
        flipBit(log, (sizes[1] + sizes[2]) / 2, 0x04); // and in the last record
        byte[] damaged = Files.readAllBytes(log);
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true)) {
            assertThat(store.events()).isEqualTo(20);
            assertThat(store.get(1).length()).isEqualTo(20);
            store.append(batch(4, 0, 5));
        }
        byte[] after = Files.readAllBytes(log);
        assertThat(Arrays.copyOf(after, damaged.length)).isEqualTo(damaged); // not cut, not rewritten
        assertThat(DamageLog.under(dir)).anySatisfy(d -> {
            assertThat(d.quarantinedTo()).isNull();
            assertThat(d.reason()).contains("left as it is");
        });
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true)) {
            assertThat(store.get(1).length()).isEqualTo(20);
            assertThat(store.get(4).length()).isEqualTo(5); // appended after the damage, kept
            assertThat(store.events()).isEqualTo(25);
        }
        Files.delete(dir.resolve(Quarantine.DIR)); // the operator makes room: the next open copies, then rewrites
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true)) {
            assertThat(store.events()).isEqualTo(25);
        }
        assertThat(quarantined(dir)).singleElement().satisfies(q -> assertThat(Files.size(q)).isEqualTo(after.length));
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true)) {
            assertThat(store.events()).isEqualTo(25);
        }
        assertThat(quarantined(dir)).hasSize(1); // rewritten: no damage left
    }

    @Test
    void aFailedBatchThatCouldNotBeCutBackIsCutAtCloseOrByTheNextOpenNeverReplayed() throws Exception {
        for (String how : new String[] {"close cuts", "marker after a failed close", "marker after a crash"}) {
            Path dir = root.resolve(how.replace(' ', '-'));
            Path log = dir.resolve(BehaviorSequenceStore.LOG_FILE);
            Path crash = root.resolve(how.replace(' ', '-') + "-crash");
            BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true);
            store.append(batch(1, 0, 20));
            long good = Files.size(log);
            boolean[] cutFails = {true};
            boolean[] landed = {false};
            store.logWrite((ch, buf, at) -> { // the whole record lands, then the write fails (an fsync error, say); no write after
                if (landed[0]) {
                    throw new IOException("Input/output error (injected)");
                }
                int n = ch.write(buf, at);
                if (!buf.hasRemaining()) {
                    landed[0] = true;
                    throw new IOException("Input/output error (injected)");
                }
                return n;
            });
            store.logCut((ch, to) -> {
                if (cutFails[0]) {
                    throw new IOException("cannot truncate (injected)");
                }
                ch.truncate(to);
                ch.force(false);
            });
            assertThatThrownBy(() -> store.append(batch(2, 0, 20))).isInstanceOf(IOException.class).hasMessageContaining("not stored");
            long failedBytes = Files.size(log) - good;
            assertThat(failedBytes).isPositive(); // the record the client was told failed is still there
            assertThat(dir.resolve(BehaviorSequenceStore.CUT_FILE)).exists();
            if (how.equals("marker after a crash")) { // the process dies here: what is on disk is what the next open sees
                Files.createDirectories(crash);
                Files.copy(log, crash.resolve(BehaviorSequenceStore.LOG_FILE));
                Files.copy(dir.resolve(BehaviorSequenceStore.CUT_FILE), crash.resolve(BehaviorSequenceStore.CUT_FILE));
            }
            if (how.equals("close cuts")) {
                cutFails[0] = false;
                store.close();
                assertThat(Files.size(log)).isEqualTo(good);
                assertThat(dir.resolve(BehaviorSequenceStore.CUT_FILE)).doesNotExist();
            } else {
                assertThatThrownBy(store::close).isInstanceOf(IOException.class).hasMessageContaining("next open");
            }
            Path opened = how.equals("marker after a crash") ? crash : dir;
            try (BehaviorSequenceStore again = BehaviorSequenceStore.open(opened, 1000, true)) {
                assertThat(again.get(1).length()).as(how).isEqualTo(20);
                assertThat(again.get(2).length()).as(how).isZero(); // never replayed
                again.append(batch(3, 0, 5));
            }
            try (BehaviorSequenceStore again = BehaviorSequenceStore.open(opened, 1000, true)) {
                assertThat(again.events()).as(how).isEqualTo(25);
            }
            assertThat(opened.resolve(BehaviorSequenceStore.CUT_FILE)).doesNotExist();
            if (how.equals("close cuts")) {
                assertThat(DamageLog.under(opened)).isEmpty();
            } else {
                assertThat(quarantined(opened)).singleElement().satisfies(q -> assertThat(Files.size(q)).isEqualTo(failedBytes));
                assertThat(DamageLog.under(opened)).singleElement().satisfies(d -> assertThat(d.reason()).contains("write failed"));
            }
        }
    }

    /** A log of the second format (one record per batch, no header check), as the previous build wrote it. */
    private static byte[] formatTwoLog(List<List<BehaviorEvent>> batches) {
        ByteBuffer buf = ByteBuffer.allocate(8 + 200 * batches.stream().mapToInt(List::size).sum() + 12 * batches.size())
                .order(ByteOrder.LITTLE_ENDIAN);
        buf.putInt(0x41424531).putInt(2);
        CRC32C crc = new CRC32C();
        for (List<BehaviorEvent> b : batches) {
            int start = buf.position();
            buf.putInt(0x42524241).putInt(0).putInt(0).putInt(b.size());
            for (BehaviorEvent e : b) {
                byte[] action = e.action().getBytes(StandardCharsets.UTF_8);
                buf.putLong(e.user()).putLong(e.item()).putLong(e.category()).putLong(e.time());
                buf.putShort((short) action.length).put(action);
            }
            int payload = buf.position() - start - 12;
            buf.putInt(start + 4, payload);
            crc.reset();
            crc.update(buf.array(), start + 4, 4);
            crc.update(buf.array(), start + 12, payload);
            buf.putInt(start + 8, (int) crc.getValue());
        }
        byte[] out = new byte[buf.position()];
        buf.flip().get(out);
        return out;
    }

    @Test
    void aLogOfTheSecondFormatIsReadItsTornTailCutAndItIsRewrittenInTheThird() throws Exception {
        Path dir = Files.createDirectories(root.resolve("behaviors"));
        Path log = dir.resolve(BehaviorSequenceStore.LOG_FILE);
        byte[] bytes = formatTwoLog(List.of(batch(1, 0, 30), batch(2, 0, 30)));
        Files.write(log, Arrays.copyOf(bytes, bytes.length - 100)); // the second batch cut short by a crash
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true)) {
            assertThat(store.events()).isEqualTo(30);
        }
        Files.write(log, bytes);
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true)) {
            assertThat(store.events()).isEqualTo(60);
            store.append(batch(3, 0, 5));
        }
        assertThat(ByteBuffer.wrap(Files.readAllBytes(log), 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt()).isEqualTo(3);
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true)) {
            assertThat(store.events()).isEqualTo(65);
        }
        assertThat(DamageLog.under(dir)).isEmpty();
    }

    @Test
    void aFailedBatchThatCouldNotBeCutOrMarkedIsZeroedInPlaceSoACrashDoesNotReplayIt() throws Exception {
        Path dir = root.resolve("behaviors");
        Path log = dir.resolve(BehaviorSequenceStore.LOG_FILE);
        Path crash = Files.createDirectories(root.resolve("crash"));
        try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dir, 1000, true)) {
            store.append(batch(1, 0, 20));
            Files.createDirectories(dir.resolve(BehaviorSequenceStore.CUT_FILE).resolve("blocked")); // no marker can go there
            boolean[] landed = {false};
            store.logWrite((ch, buf, at) -> {
                int n = ch.write(buf, at);
                if (!landed[0] && !buf.hasRemaining()) {
                    landed[0] = true;
                    throw new IOException("Input/output error (injected)");
                }
                return n;
            });
            store.logCut((ch, to) -> {
                throw new IOException("cannot truncate (injected)");
            });
            assertThatThrownBy(() -> store.append(batch(2, 0, 20))).isInstanceOf(IOException.class);
            Files.copy(log, crash.resolve(BehaviorSequenceStore.LOG_FILE)); // the process dies here
            assertThatThrownBy(store::close).isInstanceOf(IOException.class);
        }
        try (BehaviorSequenceStore again = BehaviorSequenceStore.open(crash, 1000, true)) {
            assertThat(again.get(1).length()).isEqualTo(20);
            assertThat(again.get(2).length()).isZero();
        }
        assertThat(DamageLog.under(crash)).isEmpty(); // an all-zero tail: a write that never was
    }

    @Test
    void aLogOfANewerFormatIsRefusedAndLeftAsItIs() throws Exception {
        Path dir = Files.createDirectories(root.resolve("behaviors"));
        Path log = dir.resolve(BehaviorSequenceStore.LOG_FILE);
        ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN).putInt(0x41424531).putInt(9);
        Files.write(log, b.array());
        assertThatThrownBy(() -> BehaviorSequenceStore.open(dir, 1000, true)).isInstanceOf(UnsupportedFormatException.class)
                .hasMessageContaining("format 9");
        assertThat(Files.readAllBytes(log)).isEqualTo(b.array());
        assertThat(quarantined(dir)).isEmpty();
    }
}
