package dev.attend.retrieval;

import dev.attend.gpu.Scorer;
import dev.attend.index.store.CorruptFileException;
import dev.attend.index.store.Quarantine;
import dev.attend.index.store.ResourceId;
import dev.attend.index.store.UnsupportedFormatException;
import dev.attend.retrieval.internals.KvJournal;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.stream.Stream;

/**
 * Opens the sessions a {@link KvSessionStore} finds on disk: reads each folder's configuration, honours a rollback
 * marker, replays the journal (damage copied into the quarantine and reported, the intact records served) and attaches
 * the journal for later writes. A folder that cannot be served is moved aside whole or skipped with the reason, never
 * emptied or served with a hole.
 */
final class KvSessionLoader {

    private static final System.Logger LOG = System.getLogger(KvSessionStore.class.getName());

    /** Reports a session left in place, not loaded. */
    interface Skip {
        void accept(String id, Path dir, String reason);
    }

    private final Path root;
    private final Scorer scorer;
    private final Executor builds;
    private final Executor indexer;
    private final KvSessionLimits limits;
    private final KvMemoryBudget budget;
    private final boolean force;
    private final Skip skip;

    KvSessionLoader(Path root, Scorer scorer, Executor builds, Executor indexer, KvSessionLimits limits, KvMemoryBudget budget,
                    boolean force, Skip skip) {
        this.root = root;
        this.scorer = scorer;
        this.builds = builds;
        this.indexer = indexer;
        this.limits = limits;
        this.budget = budget;
        this.force = force;
        this.skip = skip;
    }

    /** Loads one session folder, or quarantines or skips it with a report (null); never throws. */
    KvSession load(String id, Path dir) {
        Path configFile = dir.resolve(KvSessionStore.CONFIG);
        Path journalFile = dir.resolve(KvSessionStore.JOURNAL);
        String resource = "KV session " + ResourceId.shown(id);
        if (!Files.exists(configFile, LinkOption.NOFOLLOW_LINKS)) {
            if (!Files.notExists(configFile, LinkOption.NOFOLLOW_LINKS)) { // neither: it cannot be told (a permission)
                skip.accept(id, dir, "whether it has a " + KvSessionStore.CONFIG + " cannot be told now (its folder cannot be read: a permission?);"
                        + " left in place, not loaded");
                return null;
            }
            if (onlyLeftoversOfACreate(dir)) {
                return null;
            }
            Quarantine.moveAside(root, KvSessionStore.STORE, resource, dir, "its folder has no " + KvSessionStore.CONFIG
                    + ": the session's shape is lost, so its journal cannot be read; moved aside whole");
            return null;
        }
        KvSessionConfig config;
        try {
            config = KvSessionConfigFile.read(configFile);
        } catch (CorruptFileException e) { // damage: the session's shape is lost
            Quarantine.moveAside(root, KvSessionStore.STORE, resource, dir, KvSessionStore.CONFIG + " is damaged (" + e.getMessage() + "); moved aside whole");
            return null;
        } catch (UnsupportedFormatException e) { // intact, written by another (newer) build: never moved or rewritten here
            skip.accept(id, dir, KvSessionStore.CONFIG + " is intact but this build cannot read it (" + e.getMessage()
                    + "); left in place, not loaded (a build that reads it will serve it again)");
            return null;
        } catch (IOException | RuntimeException e) { // not known to be damage (a permission, too many open files): left alone
            skip.accept(id, dir, KvSessionStore.CONFIG + " cannot be read now (" + e + "); left in place, not loaded");
            return null;
        }
        try {
            limits.check(config);
        } catch (IllegalArgumentException e) {
            skip.accept(id, dir, "its shape is over this server's limits: " + e.getMessage() + "; left in place, not loaded");
            return null;
        }
        if (Files.exists(KvJournal.rollbackMarker(journalFile), LinkOption.NOFOLLOW_LINKS) && !cutUnacknowledged(id, dir, journalFile)) {
            return null;
        }
        KvSession s = null;
        try {
            s = new KvSession(id, config, scorer, builds, indexer, limits, budget);
            // One build per head over everything replayed, not one at the first record and the rest inserted online.
            s.holdBuilds(true);
            if (!Files.exists(journalFile)) { // created, never written
                s.attachJournal(KvJournal.create(journalFile, force));
            } else {
                KvJournal.Scan scan = KvJournal.replay(journalFile, KvRecords.into(s));
                if (scan.unappliable() != null) {
                    s.close();
                    s = null;
                    Quarantine.moveAside(root, KvSessionStore.STORE, resource, dir, "its journal (" + scan.size() + " bytes) is damaged: "
                            + describe(scan) + "; " + scan.unappliable() + ", so serving it would leave a hole; moved aside whole");
                    return null;
                }
                long end = scan.end();
                if (scan.damaged()) {
                    Path copy = dir.resolve(id + "." + KvSessionStore.JOURNAL);
                    Files.copy(journalFile, copy, StandardCopyOption.REPLACE_EXISTING);
                    Path kept = Quarantine.moveAside(root, KvSessionStore.STORE, resource, copy, "its journal (" + scan.size() + " bytes) is damaged: "
                            + describe(scan) + "; the intact records were replayed (" + scan.good().size()
                            + "), the session is served without the lost bytes, and this is a copy of the journal as found");
                    if (kept != null) {
                        end = KvJournal.rewrite(journalFile, scan);
                    } else if (scan.format() != KvJournal.FORMAT) {
                        throw new IOException("its damaged format-1 journal could not be copied aside, so it is not rewritten");
                    } else {
                        end = scan.size(); // kept as found (a reader skips the damage again); new records after it
                    }
                } else if (scan.format() != KvJournal.FORMAT && !scan.good().isEmpty()) {
                    end = KvJournal.rewrite(journalFile, scan); // format 1 becomes format 2
                } else if (scan.tornTail() > 0) {
                    LOG.log(System.Logger.Level.INFO, "{0}: a write cut short at the end of its journal ({1} bytes, never acknowledged) is dropped",
                            resource, scan.tornTail());
                }
                s.attachJournal(KvJournal.append(journalFile, end, force));
            }
            s.holdBuilds(false);
            return s;
        } catch (Exception | OutOfMemoryError | StackOverflowError e) {
            if (s != null) {
                s.close();
                s = null;
            }
            skip.accept(id, dir, "cannot be loaded (" + e + "); left in place, not loaded");
            return null;
        }
    }

    /**
     * Honours a journal's {@link KvJournal#rollbackMarker}: a write failed, its client was told nothing was applied, and
     * cutting its bytes failed too (then the process ended). Those bytes are copied into the quarantine and reported,
     * then cut from the journal, so they are never replayed. False (the session left in place, reported, skipped) when
     * the marker cannot be read or the bytes cannot be kept aside first.
     */
    private boolean cutUnacknowledged(String id, Path dir, Path journalFile) {
        String resource = "KV session " + ResourceId.shown(id);
        Path marker = KvJournal.rollbackMarker(journalFile);
        long offset;
        try {
            offset = KvJournal.rollbackOffset(marker);
        } catch (IOException | RuntimeException e) {
            skip.accept(id, dir, "its journal has a rollback marker that cannot be read (" + e.getMessage() + "): a write that failed may"
                    + " still be at the journal's end, so it is not replayed; left in place, not loaded");
            return false;
        }
        try {
            long size = Files.exists(journalFile) ? Files.size(journalFile) : 0;
            if (size > offset) {
                Path copy = dir.resolve(id + "." + KvSessionStore.JOURNAL + KvSessionStore.UNACKNOWLEDGED);
                try (FileChannel in = FileChannel.open(journalFile, StandardOpenOption.READ);
                     FileChannel out = FileChannel.open(copy, StandardOpenOption.CREATE,
                             StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
                    for (long at = offset; at < size; ) {
                        at += in.transferTo(at, size - at, out);
                    }
                    out.force(true);
                }
                Path kept = Quarantine.moveAside(root, KvSessionStore.STORE, resource, copy, "a write that failed (its client was told that nothing"
                        + " was applied) and whose rollback failed too left bytes [" + offset + ", " + size + ") at the end of its journal;"
                        + " they are cut from the journal, never replayed, and this is a copy of them");
                if (kept == null) {
                    skip.accept(id, dir, "the unacknowledged bytes [" + offset + ", " + size + ") at the end of its journal could not be kept aside,"
                            + " so they are not cut, and the journal is not replayed with them; left in place, not loaded");
                    return false;
                }
            } else {
                LOG.log(System.Logger.Level.INFO, "{0}: a rollback marker at byte {1} of a journal of {2} bytes: cut already", resource,
                        offset, size);
            }
            KvJournal.cutAt(journalFile, offset);
            return true;
        } catch (IOException | RuntimeException e) {
            skip.accept(id, dir, "a write that failed left bytes at the end of its journal from byte " + offset + ", and they cannot be cut now ("
                    + e + "); left in place, not loaded");
            return false;
        }
    }

    private static String describe(KvJournal.Scan scan) {
        List<String> parts = new ArrayList<>();
        scan.lost().forEach(l -> parts.add("lost " + l));
        if (scan.damagedTail() != null) {
            parts.add("lost its last record, " + scan.damagedTail());
        }
        return String.join("; ", parts);
    }

    /** A folder holding nothing, or only a configuration's temporary file (a create cut short): removed. */
    private boolean onlyLeftoversOfACreate(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            List<Path> all = files.toList();
            if (!all.stream().allMatch(f -> KvSessionStore.isConfigTemporary(f.getFileName().toString()))) {
                return false;
            }
            for (Path f : all) {
                Files.deleteIfExists(f);
            }
            Files.deleteIfExists(dir);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
