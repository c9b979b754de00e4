package dev.attend.index.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DurableFileTest {

    static final long SEED = Long.getLong("attend.test.seed", 0);

    @BeforeAll
    static void printSeed() {
        System.out.println("DurableFileTest seed " + SEED + " (-Dattend.test.seed=N repeats another)");
    }

    @TempDir
    Path dir;

    private byte[] roundTrip(Path file, byte[] payload) throws IOException {
        DurableFile.write(file, "test-codec", 3, out -> out.write(payload));
        try (DurableFile.Reader r = DurableFile.open(file, "test-codec", 1, 3)) {
            assertEquals(3, r.version());
            assertEquals(payload.length, r.payloadBytes());
            return r.in().readNBytes((int) r.payloadBytes());
        }
    }

    @Test
    void roundTripsAndReplacesAtomically() throws IOException {
        Path f = dir.resolve("a.bin");
        byte[] p = new byte[200_000];
        new Random(SEED + 1).nextBytes(p);
        assertArrayEquals(p, roundTrip(f, p));
        assertArrayEquals(new byte[0], roundTrip(f, new byte[0]));
        try (var left = Files.list(dir)) {
            assertEquals(List.of(f), left.toList(), "no temporary file left");
        }
        assertTrue(DurableFile.isFramed(f));
    }

    @Test
    void everyFlippedByteAndEveryCutIsRefused() throws IOException {
        Path f = dir.resolve("b.bin");
        byte[] p = new byte[300];
        new Random(SEED + 2).nextBytes(p);
        DurableFile.write(f, "test-codec", 1, out -> out.write(p));
        byte[] good = Files.readAllBytes(f);
        for (int i = 0; i < good.length; i++) {
            byte[] bad = good.clone();
            bad[i] ^= 0x10;
            Files.write(f, bad);
            assertThrows(CorruptFileException.class, () -> DurableFile.open(f, "test-codec", 1, 1), "byte " + i);
        }
        for (int cut = 0; cut < good.length; cut += 7) {
            Files.write(f, Arrays.copyOf(good, cut));
            assertThrows(CorruptFileException.class, () -> DurableFile.open(f, "test-codec", 1, 1), "cut " + cut);
        }
    }

    @Test
    void wrongCodecOrVersionIsRefused() throws IOException {
        Path f = dir.resolve("c.bin");
        DurableFile.write(f, "one", 5, out -> out.writeInt(7));
        // intact but not what this build reads: not damage (a newer build may read it)
        UnsupportedFormatException e = assertThrows(UnsupportedFormatException.class, () -> DurableFile.open(f, "two", 1, 5));
        assertTrue(e.getMessage().contains("not two"), e.getMessage());
        e = assertThrows(UnsupportedFormatException.class, () -> DurableFile.open(f, "one", 1, 4));
        assertTrue(e.getMessage().contains("version 5"), e.getMessage());
        try (DurableFile.Reader r = DurableFile.open(f, "one", 5, 5)) {
            assertEquals(7, r.in().readInt());
        }
    }

    @Test
    void idsStayUnderTheirDirectory() {
        for (String bad : new String[] {".", "..", "", ".hidden", "a/b", "a\\b", "..%2f", "a\u0000b", "x".repeat(129), "é"}) {
            assertThrows(IllegalArgumentException.class, () -> ResourceId.kvSession(bad), bad);
        }
        assertThrows(IllegalArgumentException.class, () -> ResourceId.kvSession(null));
        assertEquals(dir.toAbsolutePath().normalize().resolve("a.b-c_1"), ResourceId.kvSession("a.b-c_1").resolveUnder(dir));
        String longId = "y".repeat(10_000);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ResourceId.document(longId));
        assertTrue(e.getMessage().length() < 300, "the message does not echo a long id whole");
    }

    @Test
    void quarantineMovesAsideAndReports() throws IOException {
        Path store = dir.resolve("store");
        Path victim = store.resolve("s1");
        Files.createDirectories(victim);
        Files.writeString(victim.resolve("data"), "x");
        Path moved = Quarantine.moveAside(store, "test", "s1", victim, "checksum mismatch");
        assertFalse(Files.exists(victim));
        assertEquals("x", Files.readString(moved.resolve("data")));
        assertTrue(DamageLog.under(store).stream().anyMatch(d -> d.resource().equals("s1") && moved.equals(d.quarantinedTo())));
    }
}
