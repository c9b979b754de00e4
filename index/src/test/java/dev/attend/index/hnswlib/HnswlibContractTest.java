package dev.attend.index.hnswlib;

import dev.attend.index.Similarity;
import dev.attend.index.VectorIndex;
import dev.attend.index.VectorIndexContract;
import java.io.IOException;
import java.nio.file.Path;

/** The shared index contract, run against {@link HnswlibIndex}. */
class HnswlibContractTest extends VectorIndexContract {

    @Override
    protected VectorIndex create(int dim, Similarity similarity) {
        return new HnswlibIndex(dim, similarity, HnswlibIndex.Options.defaults());
    }

    @Override
    protected VectorIndex open(Path dir) throws IOException {
        return HnswlibIndex.open(dir);
    }
}
