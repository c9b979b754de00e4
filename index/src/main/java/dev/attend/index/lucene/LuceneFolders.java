package dev.attend.index.lucene;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.SegmentInfos;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.store.IOContext;
import org.apache.lucene.store.Lock;
import org.apache.lucene.store.LockObtainFailedException;

/**
 * The folders {@code lucene-*} in which a saved {@link LuceneVectorIndex} keeps its Lucene index, beside the
 * {@code CURRENT} and {@code meta.properties.<gen>} that name one of them: creating, copying, listing and
 * deleting them.
 */
final class LuceneFolders {

    static final String PREFIX = "lucene-";

    private LuceneFolders() {
    }

    /** A new, empty folder in {@code root}. */
    static Path create(Path root) throws IOException {
        return Files.createTempDirectory(root, PREFIX);
    }

    /**
     * Copies the segments of {@code infos} from {@code from} into a new folder in {@code target}, fsyncs them, then
     * writes and fsyncs their {@code segments_N}: a complete Lucene commit, not yet named by {@code CURRENT}. On
     * failure the folder is deleted again.
     */
    static Path copy(Directory from, SegmentInfos infos, Path target) throws IOException {
        Path out = create(target);
        boolean done = false;
        try (FSDirectory outDir = FSDirectory.open(out)) {
            Collection<String> files = infos.files(false);
            for (String file : files) {
                outDir.copyFrom(from, file, file, IOContext.DEFAULT);
            }
            outDir.sync(files);
            infos.commit(outDir);
            outDir.sync(List.of(infos.getSegmentsFileName()));
            outDir.syncMetaData();
            done = true;
        } finally {
            if (!done) {
                delete(out);
            }
        }
        return out;
    }

    /** Deletes the {@code lucene-*} folders of {@code root} other than {@code keep} that no writer holds. */
    static void deleteStale(Path root, String keep) {
        try (DirectoryStream<Path> children = Files.newDirectoryStream(root, PREFIX + "*")) {
            for (Path child : children) {
                if (!Files.isDirectory(child) || child.getFileName().toString().equals(keep)) {
                    continue;
                }
                try (FSDirectory d = FSDirectory.open(child); Lock lock = d.obtainLock(IndexWriter.WRITE_LOCK_NAME)) {
                    for (String name : d.listAll()) {
                        if (!name.equals(IndexWriter.WRITE_LOCK_NAME)) {
                            d.deleteFile(name);
                        }
                    }
                } catch (LockObtainFailedException inUse) {
                    continue;
                }
                delete(child);
            }
        } catch (IOException e) {
            // Stale folders are garbage, never read again: leave them for the next save.
        }
    }

    static void delete(Path folder) {
        if (!Files.exists(folder)) {
            return;
        }
        try (var walk = Files.walk(folder)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // Left for the next save's clean-up.
        }
    }

    /** The names of the {@code lucene-*} folders under {@code root}. */
    static Set<String> list(Path root) throws IOException {
        Set<String> out = new HashSet<>();
        try (DirectoryStream<Path> children = Files.newDirectoryStream(root, PREFIX + "*")) {
            for (Path child : children) {
                out.add(child.getFileName().toString());
            }
        }
        return out;
    }
}
