package dev.attend.recsys.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.index.store.DamageLog;
import dev.attend.index.store.Quarantine;
import dev.attend.index.store.StorageErrors;
import dev.attend.index.store.Tmpfs;
import dev.attend.recsys.data.BehaviorEvent;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hostile tests of the behaviour store's log: a full disk in the middle of a batch, damaged records in the middle. */
class BehaviorStoreDamageTest {

    @TempDir
    Path root;

    private Tmpfs mounted;

    @AfterEach
    void unmount() throws Exception {
        if (mounted != null) {
            mounted.close();
        }
    }

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
        mounted = Tmpfs.mount(mnt, "2m");
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
                store.logWrite(java.nio.channels.FileChannel::write);
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
            for (int i = 0; i < BehaviorSequenceStore.MAX_RECORD_BYTES / 98 + 10; i++) {
                huge.add(new BehaviorEvent(1, i, 0, action, i));
            }
            assertThatThrownBy(() -> store.append(huge)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("per batch");
            assertThat(store.events()).isZero();
        }
    }
}
