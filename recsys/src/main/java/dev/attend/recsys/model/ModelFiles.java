package dev.attend.recsys.model;

import dev.attend.index.store.CorruptFileException;
import dev.attend.index.store.DamageLog;
import dev.attend.index.store.DurableFile;
import dev.attend.index.store.Quarantine;
import dev.attend.index.store.UnsupportedFormatException;
import dev.attend.recsys.data.ItemCatalog;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A model on disk: one file, a {@link DurableFile} of codec {@value #CODEC} (header, format version, a CRC32C
 * footer over the whole file, checked before a byte is parsed) whose payload is {@code [kind, attention dim,
 * representation dim, top-K, hidden widths, position buckets, items, categories][every parameter array][whether an
 * item catalog follows, the catalog]} (big-endian), written to a temporary file, forced and renamed into place, so a
 * crash leaves the old model or the new one. A checkpoint adds the optimiser's state and the epochs done.
 *
 * <p>Version 2 files (before the checksum: {@code [magic "ATTENDSM"][2][the same payload]}) still load, without a
 * check of their bytes; saving writes version {@value #FORMAT_VERSION}. A damaged file is a
 * {@link CorruptFileException}, never a model with wrong weights; {@link #loadOrQuarantine} moves it aside. An intact
 * file of another version or codec is an {@link UnsupportedFormatException}: reported, never moved or written over.
 */
public final class ModelFiles {

    /** The version of the format this code writes. */
    public static final int FORMAT_VERSION = 3;
    /** The oldest version this code reads (unframed, without a checksum). */
    public static final int OLDEST_VERSION = 2;
    /** The codec name in the file's header. */
    public static final String CODEC = "attend-sequence-model";
    /** The store name damage is reported under ({@link DamageLog}). */
    public static final String STORE = "recsys";
    private static final long MAGIC = 0x415454454E44534DL; // "ATTENDSM", the unframed version 2
    private static final System.Logger LOG = System.getLogger(ModelFiles.class.getName());

    private ModelFiles() {
    }

    public static void save(SequenceModel model, Path file) throws IOException {
        save(model, null, file);
    }

    /** Saves the model with the catalog of the items it was trained on (what a served model needs). */
    public static void save(SequenceModel model, ItemCatalog catalog, Path file) throws IOException {
        if (catalog != null && (catalog.items() != model.repItem.rows - 1 || catalog.categories() != model.repCat.rows - 1)) {
            throw new IllegalArgumentException("the catalog (" + catalog.items() + " items, " + catalog.categories()
                    + " categories) does not match the model's tables");
        }
        write(file, out -> {
            writeModel(model, out);
            out.writeBoolean(catalog != null);
            if (catalog != null) {
                catalog.write(out);
            }
        });
    }

    public static SequenceModel load(Path file) throws IOException {
        return loadWithCatalog(file).model();
    }

    /** A saved model and its item catalog (null when it was saved without one). */
    public record Saved(SequenceModel model, ItemCatalog catalog) {
    }

    /**
     * Loads a model and its catalog.
     *
     * @throws CorruptFileException when the file is damaged (checksum, length, header, or a payload that does not
     *     parse): never a model with wrong weights
     * @throws UnsupportedFormatException when it is an intact file of a codec or version this build does not read
     * @throws IOException when it cannot be read, or is not a model file
     */
    public static Saved loadWithCatalog(Path file) throws IOException {
        boolean framed = DurableFile.isFramed(file);
        try (DataInputStream in = open(file)) {
            try {
                SequenceModel model = readModel(in, file);
                ItemCatalog catalog = in.readBoolean() ? ItemCatalog.read(in) : null;
                if (catalog != null && (catalog.items() != model.repItem.rows - 1 || catalog.categories() != model.repCat.rows - 1)) {
                    throw new CorruptFileException(file, "the item catalog does not match the model's tables");
                }
                return new Saved(model, catalog);
            } catch (CorruptFileException e) {
                throw unparsable(file, framed, e.getMessage(), e);
            } catch (EOFException e) {
                throw unparsable(file, framed, "truncated", e);
            } catch (IllegalArgumentException | IllegalStateException | NegativeArraySizeException e) {
                throw unparsable(file, framed, "unreadable: " + e.getMessage(), e); // a catalog that does not parse
            }
        }
    }

    /**
     * A payload that does not parse: damage in an unframed (unchecked) file; in a framed one, whose checksum held, a
     * file this build cannot read (written by another build), not damage.
     */
    private static IOException unparsable(Path file, boolean framed, String why, Exception cause) {
        String m = String.valueOf(why);
        m = m.startsWith(file + ": ") ? m.substring(file.toString().length() + 2) : m;
        if (framed) {
            UnsupportedFormatException u = new UnsupportedFormatException(file, "intact (its checksum holds) but this build cannot parse"
                    + " its payload: " + m);
            u.initCause(cause);
            return u;
        }
        return new CorruptFileException(file, m, cause);
    }

    /**
     * Loads the model in {@code file}; when it is damaged ({@link CorruptFileException}) moves it to
     * {@code <storeRoot>/quarantine/}, reports it to the {@link DamageLog} and returns null (serve without a model).
     * A file this build cannot read but that is not damage (an intact file of another format version or codec,
     * {@link UnsupportedFormatException}, or an I/O error reading it) is left in place, reported (with no quarantine
     * target) and null is returned too: {@link #loadReporting} tells the two apart.
     */
    public static Saved loadOrQuarantine(Path file, Path storeRoot) throws IOException {
        return loadReporting(file, storeRoot).saved();
    }

    /**
     * What {@link #loadReporting} found: the model, or (null) the {@link DamageLog} entry that says why not. A
     * {@code damage} whose {@link DamageLog.Damage#quarantinedTo()} is null left the file in place (another format, or
     * unreadable: do not write over it); a non-null one moved the damaged file there.
     */
    public record Loaded(Saved saved, DamageLog.Damage damage) {
        /** True when the file was damaged and moved aside (its path is free for a new model). */
        public boolean quarantined() {
            return damage != null && damage.quarantinedTo() != null;
        }

        /** True when the file could not be loaded and was left where it is (an unsupported format, an I/O error). */
        public boolean leftInPlace() {
            return damage != null && damage.quarantinedTo() == null;
        }
    }

    /** {@link #loadOrQuarantine}, saying what happened to a file that did not load. */
    public static Loaded loadReporting(Path file, Path storeRoot) {
        String resource = "model " + file.getFileName();
        try {
            return new Loaded(loadWithCatalog(file), null);
        } catch (CorruptFileException e) {
            Path moved = Quarantine.moveAside(storeRoot, STORE, resource, file, "damaged model file: " + reason(e, file));
            return new Loaded(null, latest(file, moved));
        } catch (UnsupportedFormatException e) {
            return new Loaded(null, DamageLog.report(STORE, resource, file, null, "a model file this build does not read, left in place"
                    + " (not damage: a newer build may read it; move or replace it to train a new model): " + reason(e, file)));
        } catch (IOException e) {
            return new Loaded(null, DamageLog.report(STORE, resource, file, null, "the model file could not be read, left in place: "
                    + reason(e, file)));
        }
    }

    private static String reason(IOException e, Path file) {
        String m = String.valueOf(e.getMessage());
        return m.startsWith(file + ": ") ? m.substring(file.toString().length() + 2) : m;
    }

    /** The damage {@link Quarantine#moveAside} just reported about {@code file}. */
    private static DamageLog.Damage latest(Path file, Path moved) {
        List<DamageLog.Damage> all = DamageLog.all();
        for (int i = all.size() - 1; i >= 0; i--) {
            DamageLog.Damage d = all.get(i);
            if (d.path().equals(file) && Objects.equals(d.quarantinedTo(), moved)) {
                return d;
            }
        }
        return new DamageLog.Damage(STORE, "model " + file.getFileName(), file, moved, "damaged model file", Instant.now());
    }

    /** A model with its optimiser's state after {@code epochs} epochs (for {@link Trainer} to resume). */
    record Checkpoint(SequenceModel model, ModelOptimizer optimizer, int epochs) {
    }

    static void saveCheckpoint(Checkpoint c, Path file) throws IOException {
        write(file, out -> {
            writeModel(c.model(), out);
            out.writeBoolean(false);
            out.writeInt(c.epochs());
            out.writeLong(c.optimizer().steps());
            for (float[] a : c.optimizer().state()) {
                writeArray(out, a);
            }
        });
    }

    static Checkpoint loadCheckpoint(Path file, float learningRate, float l2) throws IOException {
        try (DataInputStream in = open(file)) {
            SequenceModel model = readModel(in, file);
            if (in.readBoolean()) {
                throw new IOException(file + " is a served model, not a training checkpoint");
            }
            int epochs = in.readInt();
            ModelOptimizer optimizer = new ModelOptimizer(model, learningRate, l2);
            optimizer.resume(in.readLong());
            for (float[] a : optimizer.state()) {
                readArray(in, a, file);
            }
            return new Checkpoint(model, optimizer, epochs);
        }
    }

    private interface Body {
        void write(DataOutputStream out) throws IOException;
    }

    private static void write(Path file, Body body) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        DurableFile.write(file, CODEC, FORMAT_VERSION, body::write);
    }

    /** The payload of a model file of either format, the checksum of a framed one verified first. */
    private static DataInputStream open(Path file) throws IOException {
        if (DurableFile.isFramed(file)) {
            return DurableFile.open(file, CODEC, FORMAT_VERSION, FORMAT_VERSION).in();
        }
        InputStream raw = Files.newInputStream(file);
        DataInputStream in = new DataInputStream(new BufferedInputStream(raw, 1 << 16));
        try {
            if (Files.size(file) < 12 || in.readLong() != MAGIC) {
                throw new IOException(file + " is not an Attend sequence model");
            }
            int version = in.readInt();
            if (version != OLDEST_VERSION) {
                throw new UnsupportedFormatException(file, "unframed model format version " + version + "; this build reads versions " + OLDEST_VERSION + " to "
                        + FORMAT_VERSION);
            }
            LOG.log(System.Logger.Level.WARNING, file + " is a version " + version + " model file, without a checksum: its bytes are not"
                    + " verified; save it again for a checked file");
            return in;
        } catch (IOException e) {
            in.close();
            throw e;
        }
    }

    private static void writeModel(SequenceModel m, DataOutputStream out) throws IOException {
        ModelConfig c = m.config();
        out.writeUTF(c.kind().name());
        out.writeInt(c.attentionDim());
        out.writeInt(c.representationDim());
        out.writeInt(c.topK());
        out.writeInt(c.hidden().length);
        for (int h : c.hidden()) {
            out.writeInt(h);
        }
        out.writeInt(c.positionBuckets());
        out.writeInt(m.repItem.rows - 1);
        out.writeInt(m.repCat.rows - 1);
        for (float[] a : m.parameters()) {
            writeArray(out, a);
        }
    }

    private static SequenceModel readModel(DataInputStream in, Path file) throws IOException {
        ModelConfig.Kind kind;
        try {
            kind = ModelConfig.Kind.valueOf(in.readUTF());
        } catch (IllegalArgumentException e) {
            throw new CorruptFileException(file, "unknown model kind", e);
        }
        int da = in.readInt();
        int dr = in.readInt();
        int topK = in.readInt();
        int[] hidden = new int[in.readInt()];
        for (int i = 0; i < hidden.length; i++) {
            hidden[i] = in.readInt();
        }
        int positionBuckets = in.readInt();
        int items = in.readInt();
        int categories = in.readInt();
        SequenceModel m;
        try {
            m = new SequenceModel(new ModelConfig(kind, da, dr, topK, hidden, positionBuckets), items, categories, 0);
        } catch (IllegalArgumentException e) {
            throw new CorruptFileException(file, e.getMessage(), e);
        }
        for (float[] a : m.parameters()) {
            readArray(in, a, file);
        }
        return m;
    }

    private static void writeArray(DataOutputStream out, float[] a) throws IOException {
        out.writeInt(a.length);
        for (float x : a) {
            out.writeFloat(x);
        }
    }

    private static void readArray(DataInputStream in, float[] a, Path file) throws IOException {
        int n = in.readInt();
        if (n != a.length) {
            throw new CorruptFileException(file, "a parameter block of " + n + " values where the model has " + a.length);
        }
        for (int i = 0; i < n; i++) {
            a[i] = in.readFloat();
        }
    }

    /** The arrays of {@code blocks} in order, for the walks above. */
    static List<float[]> flatten(float[][]... blocks) {
        List<float[]> out = new ArrayList<>();
        for (float[][] b : blocks) {
            out.addAll(Arrays.asList(b));
        }
        return out;
    }
}
