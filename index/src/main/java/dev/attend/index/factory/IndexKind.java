package dev.attend.index.factory;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The indexes {@link VectorIndexes#create} builds, by the name a command line or a config file gives. */
public enum IndexKind {
    /** {@link dev.attend.index.FlatIndex}: exact, on the gpu scorer. */
    FLAT,
    /** {@link dev.attend.index.hnswlib.HnswlibIndex}: HNSW through hnswlib-core. */
    HNSWLIB,
    /** {@link dev.attend.index.lucene.LuceneVectorIndex}: Lucene HNSW, in memory or in a directory. */
    LUCENE;

    /** The lower-case name ({@code flat}, {@code hnswlib}, {@code lucene}). */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The kind named {@code id} (any case). */
    public static IndexKind parse(String id) {
        for (IndexKind k : values()) {
            if (k.id().equalsIgnoreCase(id == null ? "" : id.trim())) {
                return k;
            }
        }
        throw new IllegalArgumentException("unknown index '" + id + "'; choose from "
                + Arrays.stream(values()).map(IndexKind::id).collect(Collectors.joining(", ")));
    }
}
