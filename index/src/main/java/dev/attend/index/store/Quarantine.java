package dev.attend.index.store;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * Moves damaged files aside instead of deleting, truncating or serving them: {@code <store>/quarantine/<time>-<name>}
 * with a {@code .reason} file beside it, reported to the {@link DamageLog}. The quarantine folder is never read as data.
 */
public final class Quarantine {

    /** The folder under a store's directory where its damaged entries go; stores skip it when they list entries. */
    public static final String DIR = "quarantine";
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'").withZone(ZoneOffset.UTC);

    private Quarantine() {
    }

    /**
     * Moves {@code damaged} (a file or a folder under {@code storeRoot}) into the store's quarantine and reports it.
     * Returns where it went, or null when even the move failed (then it stays in place and the report says so).
     */
    public static Path moveAside(Path storeRoot, String store, String resource, Path damaged, String reason) {
        Path target = null;
        try {
            Path dir = storeRoot.resolve(DIR);
            Files.createDirectories(dir);
            String base = STAMP.format(Instant.now()) + "-" + damaged.getFileName();
            target = dir.resolve(base);
            for (int i = 1; Files.exists(target); i++) {
                target = dir.resolve(base + "." + i);
            }
            try {
                Files.move(damaged, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(damaged, target);
            }
        } catch (IOException e) {
            DamageLog.report(store, resource, damaged, null, reason + " (could not move it aside: " + e.getMessage() + ")");
            return null;
        }
        try { // moved: a reason file that cannot be written (a full disk) changes nothing of that
            Files.writeString(target.resolveSibling(target.getFileName() + ".reason"), resource + ": " + reason + "\n",
                    StandardCharsets.UTF_8);
        } catch (IOException e) {
            reason = reason + " (its .reason file could not be written: " + e.getMessage() + ")";
        }
        DamageLog.report(store, resource, damaged, target, reason);
        return target;
    }
}
