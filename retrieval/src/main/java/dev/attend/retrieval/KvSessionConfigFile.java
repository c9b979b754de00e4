package dev.attend.retrieval;

import dev.attend.gpu.Precision;
import dev.attend.index.graph.AttentionAwareIndex;
import dev.attend.index.store.CorruptFileException;
import dev.attend.index.store.DurableFile;
import dev.attend.index.store.UnsupportedFormatException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
/**
 * A KV session's {@code session.properties}: its configuration as a {@link DurableFile} (versioned, checksummed), so
 * that a store reopens each session with the shape, policies and index parameters it was created with. Files written
 * before a setting existed are read with its default.
 */
final class KvSessionConfigFile {

    private static final String CODEC = "attend.kv-session-config";
    private static final int VERSION = 1;

    private static final System.Logger LOG = System.getLogger(KvSessionStore.class.getName());

    private KvSessionConfigFile() {
    }

    static void write(Path file, KvSessionConfig c) throws IOException {
        byte[] bytes = text(c);
        DurableFile.write(file, CODEC, VERSION, out -> out.write(bytes));
    }

    /** The configuration as the properties text its file holds (inside the file's checksummed frame). */
    static byte[] text(KvSessionConfig c) {
        Properties p = new Properties();
        p.setProperty("layers", Integer.toString(c.layers()));
        p.setProperty("kvHeads", Integer.toString(c.kvHeads()));
        p.setProperty("queryHeadsPerKvHead", Integer.toString(c.queryHeadsPerKvHead()));
        p.setProperty("headDim", Integer.toString(c.headDim()));
        p.setProperty("sinkTokens", Integer.toString(c.sinkTokens()));
        p.setProperty("windowTokens", Integer.toString(c.windowTokens()));
        p.setProperty("topK", Integer.toString(c.topK()));
        p.setProperty("scale", Float.toString(c.scale()));
        AttentionAwareIndex.Params ip = c.indexParams();
        p.setProperty("index.maxDegree", Integer.toString(ip.maxDegree()));
        p.setProperty("index.queryNeighbors", Integer.toString(ip.queryNeighbors()));
        p.setProperty("index.pivotsPerQuery", Integer.toString(ip.pivotsPerQuery()));
        p.setProperty("index.buildBeam", Integer.toString(ip.buildBeam()));
        p.setProperty("index.entryPoints", Integer.toString(ip.entryPoints()));
        p.setProperty("index.trainingQueriesPerKey", Double.toString(ip.trainingQueriesPerKey()));
        p.setProperty("storage", c.storage().name());
        p.setProperty("retriever", c.retriever().wireName());
        p.setProperty("indexPerQueryHead", Boolean.toString(c.indexPerQueryHead()));
        p.setProperty("policy", c.policies().defaultPolicy());
        c.policies().perHead().forEach((head, name) -> p.setProperty("policy." + head, name));
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        try {
            p.store(text, "Attend KV session");
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a byte array does not fail
        }
        return text.toByteArray();
    }

    /**
     * The configuration of {@link #text} bytes read from {@code source} (named in errors), whose integrity its carrier
     * checked (a Kafka record batch's CRC): what does not parse is an {@link UnsupportedFormatException}.
     */
    static KvSessionConfig fromText(byte[] text, Path source) throws IOException {
        if (text.length > MAX_CONFIG_BYTES) {
            throw new UnsupportedFormatException(source, "a configuration of " + text.length + " bytes");
        }
        Properties p = new Properties();
        try {
            p.load(new ByteArrayInputStream(text));
        } catch (IllegalArgumentException e) {
            throw new UnsupportedFormatException(source, "a configuration this build cannot parse: " + e.getMessage());
        }
        return parse(source, p, true);
    }

    /**
     * Reads a configuration: a {@link DurableFile}, or (written before it) plain properties, then rewritten as one.
     * Damage is a {@link CorruptFileException}: a framed file that fails its checks, a framed file whose magic number is
     * damaged (it is never read as plain properties), a plain file that cannot be parsed. An intact file this build
     * cannot read (another format version; a framed file, or a name in a plain one, that this build does not know: a
     * storage, a retriever, a head policy) is an {@link UnsupportedFormatException}; any other exception is neither.
     */
    static KvSessionConfig read(Path file) throws IOException {
        Properties p = new Properties();
        boolean legacy = !DurableFile.isFramed(file);
        if (legacy) {
            byte[] bytes;
            try (InputStream in = Files.newInputStream(file)) {
                bytes = in.readNBytes(MAX_CONFIG_BYTES + 1);
            }
            if (bytes.length > MAX_CONFIG_BYTES) {
                throw new CorruptFileException(file, "a plain configuration of more than " + MAX_CONFIG_BYTES + " bytes");
            }
            if (looksFramed(bytes)) {
                throw new CorruptFileException(file, "it holds the bytes of a checksummed configuration but not its header's magic number:"
                        + " its start is damaged (it is never read as plain properties)");
            }
            String text;
            try {
                text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
            } catch (CharacterCodingException e) {
                throw new CorruptFileException(file, "a plain configuration that is not text", e);
            }
            try {
                p.load(new StringReader(text));
            } catch (IllegalArgumentException e) { // a malformed unicode escape
                throw new CorruptFileException(file, "a plain configuration that cannot be parsed: " + e.getMessage(), e);
            }
        } else {
            try (DurableFile.Reader r = DurableFile.open(file, CODEC, VERSION, VERSION)) {
                if (r.payloadBytes() > MAX_CONFIG_BYTES) {
                    throw new UnsupportedFormatException(file, "an intact configuration of " + r.payloadBytes() + " bytes");
                }
                byte[] text = r.in().readNBytes((int) r.payloadBytes());
                try {
                    p.load(new ByteArrayInputStream(text));
                } catch (IllegalArgumentException e) {
                    throw new UnsupportedFormatException(file, "an intact configuration this build cannot parse: " + e.getMessage());
                }
            }
        }
        KvSessionConfig c = parse(file, p, !legacy);
        if (legacy) {
            try {
                write(file, c); // now checksummed
            } catch (IOException e) { // (a full disk): it stays as it was, read the same way next time
                LOG.log(System.Logger.Level.WARNING, "{0} could not be rewritten with a checksum: {1}", file, e.toString());
            }
        }
        return c;
    }

    /** The largest configuration read (a real one is under 1 KB). */
    private static final int MAX_CONFIG_BYTES = 1 << 20;

    /**
     * Whether the bytes of a file without the framed format's magic number are still clearly a framed file: they hold
     * the codec's name, or a NUL byte (which plain properties never hold, and a framed file always does, in its
     * header's name length, its version and its footer's length).
     */
    private static boolean looksFramed(byte[] bytes) {
        byte[] codec = CODEC.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == 0) {
                return true;
            }
            if (i + codec.length <= bytes.length && Arrays.equals(bytes, i, i + codec.length, codec, 0, codec.length)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The configuration {@code p} holds. {@code intact}: read from a file whose checksum held, so whatever fails is a
     * format this build does not read ({@link UnsupportedFormatException}); from a plain file (no checksum), a missing or
     * malformed number is damage ({@link CorruptFileException}) and only a name this build does not know (a storage, a
     * retriever, a head policy) is unsupported.
     */
    private static KvSessionConfig parse(Path file, Properties p, boolean intact) throws IOException {
        KvSessionConfig shape;
        try {
            shape = new KvSessionConfig(num(p, "layers"), num(p, "kvHeads"), num(p, "queryHeadsPerKvHead"), num(p, "headDim"),
                    num(p, "sinkTokens"), num(p, "windowTokens"), num(p, "topK"), Float.parseFloat(required(p, "scale")),
                    new AttentionAwareIndex.Params(num(p, "index.maxDegree"), num(p, "index.queryNeighbors"),
                            num(p, "index.pivotsPerQuery"), num(p, "index.buildBeam"), num(p, "index.entryPoints"),
                            trainingQueriesPerKey(p)),
                    Precision.FLOAT32, KvSessionConfig.Retriever.ATTENTION_AWARE, false, HeadPolicies.defaults());
        } catch (RuntimeException e) {
            String why = "not a valid KV session configuration: " + e.getMessage();
            if (intact) {
                throw new UnsupportedFormatException(file, "an intact configuration this build cannot read, " + why);
            }
            throw new CorruptFileException(file, why, e);
        }
        try {
            return new KvSessionConfig(shape.layers(), shape.kvHeads(), shape.queryHeadsPerKvHead(), shape.headDim(), shape.sinkTokens(),
                    shape.windowTokens(), shape.topK(), shape.scale(), shape.indexParams(), Precision.valueOf(required(p, "storage").strip()),
                    KvSessionConfig.Retriever.of(p.getProperty("retriever", KvSessionConfig.Retriever.ATTENTION_AWARE.wireName()).strip()),
                    Boolean.parseBoolean(p.getProperty("indexPerQueryHead", "false").strip()), policies(p)).checked();
        } catch (RuntimeException e) {
            throw new UnsupportedFormatException(file, "a storage, retriever or head policy this build does not know, or does not"
                    + " accept together: " + e.getMessage());
        }
    }

    private static String required(Properties p, String key) {
        String v = p.getProperty(key);
        if (v == null) {
            throw new IllegalArgumentException("missing " + key);
        }
        return v;
    }

    /** The head policies of a configuration file ({@code policy} and {@code policy.<layer>/<kvHead>}; retrieval when absent). */
    private static HeadPolicies policies(Properties p) {
        Map<String, String> perHead = new TreeMap<>();
        for (String key : p.stringPropertyNames()) {
            if (key.startsWith("policy.")) {
                perHead.put(key.substring("policy.".length()), p.getProperty(key));
            }
        }
        return new HeadPolicies(p.getProperty("policy", HeadPolicies.RETRIEVAL), perHead);
    }

    private static int num(Properties p, String key) {
        return Integer.parseInt(required(p, key).strip());
    }

    /** Sessions written before the setting existed sample as sessions do now. */
    private static double trainingQueriesPerKey(Properties p) {
        String v = p.getProperty("index.trainingQueriesPerKey");
        return v == null ? AttentionAwareIndex.Params.DEFAULT_TRAINING_QUERIES_PER_KEY : Double.parseDouble(v.strip());
    }
}
