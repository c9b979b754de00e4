package dev.attend.index.lucene;

import dev.attend.index.Similarity;
import dev.attend.index.VectorIndex;
import dev.attend.index.VectorIndexContract;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** The shared index contract, run against {@link LuceneVectorIndex} (memory-mapped, in a temporary directory). */
class LuceneContractTest extends VectorIndexContract {

    @TempDir
    Path home;

    @Override
    protected VectorIndex create(int dim, Similarity similarity) {
        try {
            return LuceneVectorIndex.create(Files.createTempDirectory(home, "index"), dim, similarity, LuceneVectorIndex.Options.defaults());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    protected VectorIndex open(Path dir) throws IOException {
        return LuceneVectorIndex.open(dir);
    }
}
