package dev.attend.lm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The shape of a bytelm model, read from its {@code config.json}: layers, model dimension, query and KV heads
 * (grouped-query attention), head dimension, FFN width, vocabulary, RoPE base, RMSNorm epsilon, attention scale, and
 * for every weight array its file and shape.
 *
 * @param weightFiles array name -> the {@code .npz} file (in the model directory) that holds it
 * @param shapes      array name -> its shape
 */
public record ByteLmConfig(String name, int vocab, int layers, int dim, int heads, int kvHeads, int headDim, int ffnHidden,
                           double ropeBase, double normEps, float attentionScale, Map<String, String> weightFiles,
                           Map<String, int[]> shapes) {

    public ByteLmConfig {
        if (vocab < 1 || layers < 1 || dim < 1 || heads < 1 || kvHeads < 1 || headDim < 2 || headDim % 2 != 0 || ffnHidden < 1) {
            throw new IllegalArgumentException("bad model shape: vocab " + vocab + ", layers " + layers + ", dim " + dim + ", heads "
                    + heads + ", kv_heads " + kvHeads + ", head_dim " + headDim + " (must be even), ffn_hidden " + ffnHidden);
        }
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("heads (" + heads + ") must be a multiple of kv_heads (" + kvHeads + ")");
        }
        if (heads * headDim != dim) {
            throw new IllegalArgumentException("heads x head_dim (" + heads + " x " + headDim + ") must equal dim " + dim);
        }
        if (!(ropeBase > 1) || !(normEps > 0) || !(attentionScale > 0)) {
            throw new IllegalArgumentException("rope_base must be > 1, norm_eps and attention_scale > 0");
        }
        weightFiles = Map.copyOf(weightFiles);
        shapes = Map.copyOf(shapes);
    }

    /** Query heads per KV head. */
    public int group() {
        return heads / kvHeads;
    }

    /** The KV head query head {@code h} reads. */
    public int kvHeadOf(int h) {
        return h / group();
    }

    /** The shape every array of the model must have (the forward pass relies on it), by name. */
    public Map<String, int[]> expectedShapes() {
        Map<String, int[]> m = new LinkedHashMap<>();
        m.put("emb", new int[] {vocab, dim});
        for (int i = 0; i < layers; i++) {
            String p = "layers." + i + ".";
            m.put(p + "attn_norm", new int[] {dim});
            m.put(p + "ffn_norm", new int[] {dim});
            m.put(p + "wq", new int[] {heads * headDim, dim});
            m.put(p + "wk", new int[] {kvHeads * headDim, dim});
            m.put(p + "wv", new int[] {kvHeads * headDim, dim});
            m.put(p + "wo", new int[] {dim, heads * headDim});
            m.put(p + "w1", new int[] {ffnHidden, dim});
            m.put(p + "w3", new int[] {ffnHidden, dim});
            m.put(p + "w2", new int[] {dim, ffnHidden});
        }
        m.put("norm", new int[] {dim});
        m.put("head", new int[] {vocab, dim});
        return m;
    }

    /** Reads {@code modelDir/config.json}; a missing file or field is an {@link IOException} that names it. */
    public static ByteLmConfig load(Path modelDir) throws IOException {
        Path file = modelDir.resolve("config.json");
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new IOException(file + ": no config.json in the model directory " + modelDir, e);
        }
        Map<String, Object> root;
        try {
            Object parsed = JsonText.parse(text);
            if (!(parsed instanceof Map<?, ?> m)) {
                throw new IllegalArgumentException("the top level is not an object");
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> r = (Map<String, Object>) m;
            root = r;
        } catch (IllegalArgumentException e) {
            throw new IOException(file + " is not valid JSON: " + e.getMessage(), e);
        }
        try {
            int heads = integer(root, "heads");
            int headDim = integer(root, "head_dim");
            float scale = root.containsKey("attention_scale") ? (float) number(root, "attention_scale") : (float) (1 / Math.sqrt(headDim));
            Map<String, String> files = new LinkedHashMap<>();
            Object wf = root.get("weights_files");
            if (!(wf instanceof Map<?, ?> wfm)) {
                throw new IllegalArgumentException("'weights_files' (file -> array names) is missing or not an object");
            }
            for (Map.Entry<?, ?> e : wfm.entrySet()) {
                if (!(e.getValue() instanceof List<?> names)) {
                    throw new IllegalArgumentException("'weights_files'.'" + e.getKey() + "' is not a list of array names");
                }
                for (Object n : names) {
                    files.put(String.valueOf(n), String.valueOf(e.getKey()));
                }
            }
            Map<String, int[]> shapes = new LinkedHashMap<>();
            if (root.get("shapes") instanceof Map<?, ?> sm) {
                for (Map.Entry<?, ?> e : sm.entrySet()) {
                    List<Integer> dims = new ArrayList<>();
                    if (!(e.getValue() instanceof List<?> l)) {
                        throw new IllegalArgumentException("'shapes'.'" + e.getKey() + "' is not a list");
                    }
                    for (Object d : l) {
                        dims.add(((Number) d).intValue());
                    }
                    shapes.put(String.valueOf(e.getKey()), dims.stream().mapToInt(Integer::intValue).toArray());
                }
            }
            return new ByteLmConfig(root.get("name") == null ? modelDir.getFileName().toString() : String.valueOf(root.get("name")),
                    integer(root, "vocab"), integer(root, "layers"), integer(root, "dim"), heads, integer(root, "kv_heads"), headDim,
                    integer(root, "ffn_hidden"), number(root, "rope_base"), number(root, "norm_eps"), scale, files, shapes);
        } catch (IllegalArgumentException | ClassCastException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    private static double number(Map<String, Object> root, String key) {
        Object v = root.get(key);
        if (!(v instanceof Number n)) {
            throw new IllegalArgumentException("'" + key + "' is " + (v == null ? "missing" : "not a number"));
        }
        return n.doubleValue();
    }

    private static int integer(Map<String, Object> root, String key) {
        double d = number(root, key);
        if (d != Math.rint(d) || Math.abs(d) > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("'" + key + "' must be a whole number, got " + d);
        }
        return (int) d;
    }
}
