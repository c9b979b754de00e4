package dev.attend.index.graph;

import dev.attend.index.IndexFiles;
import dev.attend.index.Similarity;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * The on-disk form of an {@link AttentionAwareIndex} (through {@link IndexFiles}: versioned, checksummed,
 * committed whole): {@code meta} with the parameters, {@code keys} with each node's id, removed flag and encoded
 * row, {@code graph} with each node's neighbours and the sum of the training queries. An index over a store the
 * caller keeps is saved with its rows, and opens over rows of its own.
 */
final class AttentionAwareFiles {

    private AttentionAwareFiles() {
    }

    static void save(Path dir, AttentionAwareIndex index) throws IOException {
        GraphVectors vectors = index.vectors();
        NeighborGraph graph = index.graph();
        GraphBuilder builder = index.builder();
        AttentionAwareIndex.Params params = index.params();
        int n = vectors.size();
        long[] ids = index.nodeIds();
        Properties meta = new Properties();
        meta.setProperty("dim", Integer.toString(index.dim()));
        meta.setProperty("similarity", index.similarity().name());
        meta.setProperty("rows", Integer.toString(n));
        meta.setProperty("maxDegree", Integer.toString(params.maxDegree()));
        meta.setProperty("queryNeighbors", Integer.toString(params.queryNeighbors()));
        meta.setProperty("pivotsPerQuery", Integer.toString(params.pivotsPerQuery()));
        meta.setProperty("buildBeam", Integer.toString(params.buildBeam()));
        meta.setProperty("entryPoints", Integer.toString(params.entryPoints()));
        meta.setProperty("trainingQueriesPerKey", Double.toString(params.trainingQueriesPerKey()));
        meta.setProperty("queryCount", Long.toString(builder.queryCount));
        int storedDim = vectors.dim();
        Map<String, IndexFiles.Content> files = new LinkedHashMap<>();
        files.put("keys", out -> {
            float[] row = new float[storedDim];
            for (int i = 0; i < n; i++) {
                out.writeLong(ids[i]);
                out.writeBoolean(index.isRemoved(i));
                vectors.readRow(i, row, 0);
                for (float x : row) {
                    out.writeFloat(x);
                }
            }
        });
        files.put("graph", out -> {
            for (int i = 0; i < n; i++) {
                int[] nb = graph.neighbors(i);
                out.writeShort(nb.length);
                for (int x : nb) {
                    out.writeInt(x);
                }
            }
            for (double v : builder.querySum) {
                out.writeDouble(v);
            }
        });
        IndexFiles.commit(dir, AttentionAwareIndex.TYPE, meta, files);
    }

    static AttentionAwareIndex open(Path dir) throws IOException {
        IndexFiles.Generation g = IndexFiles.open(dir, AttentionAwareIndex.TYPE);
        AttentionAwareIndex.Params params = new AttentionAwareIndex.Params(Integer.parseInt(g.require("maxDegree")),
                Integer.parseInt(g.require("queryNeighbors")), Integer.parseInt(g.require("pivotsPerQuery")),
                Integer.parseInt(g.require("buildBeam")), Integer.parseInt(g.require("entryPoints")),
                Double.parseDouble(g.optional("trainingQueriesPerKey",
                        Double.toString(AttentionAwareIndex.Params.DEFAULT_TRAINING_QUERIES_PER_KEY))));
        AttentionAwareIndex index = AttentionAwareIndex.empty(Integer.parseInt(g.require("dim")),
                Similarity.valueOf(g.require("similarity")), params);
        int n = Integer.parseInt(g.require("rows"));
        int storedDim = index.vectors().dim();
        try (DataInputStream in = g.read("keys", (long) n * (9 + 4L * storedDim))) {
            float[] row = new float[storedDim];
            for (int i = 0; i < n; i++) {
                long id = in.readLong();
                boolean gone = in.readBoolean();
                for (int c = 0; c < storedDim; c++) {
                    row[c] = in.readFloat();
                }
                index.appendOwn(id, row.clone());
                if (gone) {
                    index.markRemoved(id, i);
                }
            }
        }
        NeighborGraph graph = index.graph();
        GraphBuilder builder = index.builder();
        try (DataInputStream in = g.read("graph", -1)) {
            for (int i = 0; i < n; i++) {
                int degree = in.readShort();
                if (degree < 0 || degree > params.maxDegree()) {
                    throw new IOException(g.file("graph") + ": node " + i + " has degree " + degree);
                }
                int[] nb = new int[degree];
                for (int j = 0; j < degree; j++) {
                    nb[j] = in.readInt();
                    if (nb[j] < 0 || nb[j] >= n) {
                        throw new IOException(g.file("graph") + ": node " + i + " links to " + nb[j] + ", outside [0, " + n + ")");
                    }
                }
                graph.set(i, nb);
            }
            for (int c = 0; c < storedDim; c++) {
                builder.querySum[c] = in.readDouble();
            }
        }
        builder.queryCount = Long.parseLong(g.require("queryCount"));
        builder.updateEntries();
        return index;
    }
}
