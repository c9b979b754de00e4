package dev.attend.index.store;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Damage found in this process's stores (a corrupt file, a session that could not be loaded), each reported once at
 * ERROR and kept for {@code /health}, which answers {@code degraded} while any is listed.
 */
public final class DamageLog {

    /** What was damaged, where, why, and where it was moved (null when left in place). */
    public record Damage(String store, String resource, Path path, Path quarantinedTo, String reason, Instant at) {
    }

    private static final System.Logger LOG = System.getLogger(DamageLog.class.getName());
    private static final List<Damage> DAMAGES = new CopyOnWriteArrayList<>();
    private static final int KEPT = 1000;

    private DamageLog() {
    }

    /** Records and logs damage. */
    public static Damage report(String store, String resource, Path path, Path quarantinedTo, String reason) {
        Damage d = new Damage(store, resource, path, quarantinedTo, reason, Instant.now());
        if (DAMAGES.size() < KEPT) {
            DAMAGES.add(d);
        }
        LOG.log(System.Logger.Level.ERROR, "DAMAGE in the " + store + " store: " + resource + " at " + path + ": " + reason
                + (quarantinedTo == null ? "" : "; moved aside to " + quarantinedTo + " (nothing deleted)"));
        return d;
    }

    /** Everything reported since the process started (at most the first 1000). */
    public static List<Damage> all() {
        return List.copyOf(DAMAGES);
    }

    /** What was reported about files under {@code dir} (for one server's data directory, or a test's). */
    public static List<Damage> under(Path dir) {
        Path base = dir.toAbsolutePath().normalize();
        return DAMAGES.stream().filter(d -> d.path().toAbsolutePath().normalize().startsWith(base)).toList();
    }
}
