package dev.attend.gpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Query, key and value vectors of one attention head, as dumped from a real model: a folder with
 * {@code meta.json} (head dimension, softmax scale, head names) and {@code {head}.{q,k,v}.npy}.
 * Row i is token i.
 */
public record KvHead(String name, VectorStore queries, VectorStore keys, VectorStore values, float scale) {

    private static final Pattern SCALE = Pattern.compile("\"scale\"\\s*:\\s*([0-9.eE+-]+)");
    private static final Pattern HEADS = Pattern.compile("\"heads\"\\s*:\\s*\\[([^\\]]*)\\]");

    public int tokens() {
        return keys.size();
    }

    /** Head names listed in {@code dir/meta.json}. */
    public static List<String> heads(Path dir) throws IOException {
        Matcher m = HEADS.matcher(meta(dir));
        if (!m.find()) {
            throw new IOException(dir.resolve("meta.json") + " lists no \"heads\"");
        }
        List<String> out = new ArrayList<>();
        for (String s : m.group(1).split(",")) {
            String name = s.strip().replace("\"", "");
            if (!name.isEmpty()) {
                out.add(name);
            }
        }
        return out;
    }

    /** Loads one head; the scale comes from meta.json, or 1/sqrt(d) when it has none. */
    public static KvHead load(Path dir, String head, Precision precision) throws IOException {
        VectorStore q = NpyReader.read(dir.resolve(head + ".q.npy"), precision);
        VectorStore k = NpyReader.read(dir.resolve(head + ".k.npy"), precision);
        VectorStore v = NpyReader.read(dir.resolve(head + ".v.npy"), precision);
        if (q.dim() != k.dim() || q.size() != k.size() || v.size() != k.size()) {
            throw new IOException(dir + "/" + head + ": q " + q + ", k " + k + ", v " + v + " do not match");
        }
        Matcher m = SCALE.matcher(meta(dir));
        float scale = m.find() ? Float.parseFloat(m.group(1)) : (float) (1 / Math.sqrt(k.dim()));
        return new KvHead(head, q, k, v, scale);
    }

    private static String meta(Path dir) throws IOException {
        Path meta = dir.resolve("meta.json");
        if (!Files.exists(meta)) {
            throw new IOException(meta + " not found");
        }
        return Files.readString(meta);
    }
}
