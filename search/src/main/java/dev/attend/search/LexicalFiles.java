package dev.attend.search;

import dev.attend.index.lucene.DocumentIndex;
import dev.attend.index.store.CorruptFileException;
import dev.attend.index.store.DamageLog;
import dev.attend.index.store.DurableFile;
import dev.attend.index.store.Quarantine;
import dev.attend.index.store.UnsupportedFormatException;
import dev.attend.search.DocumentSearch.Tokens;
import java.io.EOFException;
import java.io.IOException;
import java.io.StringReader;
import java.io.UTFDataFormatException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Properties;

/**
 * The saved LexSemBridge fit of a {@link DocumentSearch}, beside its index: {@value #VOCABULARY_FILE} (the terms the
 * modulation was trained on, with IDF), {@value #MODULATION_FILE} (the modulation, {@link ModulationFile}) and
 * {@value #SETTINGS_FILE} (whether its token vectors are IDF-weighted, which tokens, and the exact vocabulary and
 * modulation files of its fit), each a checksummed {@link DurableFile}; the unchecked formats of earlier builds are
 * still read. Loading tells damage (moved aside by {@link #quarantine}) from intact files of another build.
 */
final class LexicalFiles {

    static final String VOCABULARY_FILE = "vocabulary.tsv";
    static final String MODULATION_FILE = "lexsem.bin";
    static final String SETTINGS_FILE = "lexsem.properties";
    static final String SETTINGS_CODEC = "attend-lexsem-settings";
    /** The settings' keys naming the vocabulary and modulation files of their fit (a shared generation). */
    static final String VOCABULARY_KEY = "vocabulary-file";
    static final String MODULATION_KEY = "modulation-file";

    /** A modulation with the vocabulary it was trained on and how its token vectors are weighted: replaced whole. */
    record Lexical(Vocabulary vocabulary, LexSemModulation modulation, boolean idfWeights, Tokens tokens) {
    }

    private LexicalFiles() {
    }

    /**
     * The saved modulation, or null when none was saved; a damaged or inconsistent one (files of different fits) is a
     * CorruptFileException; an intact file this build cannot read (another version, or a payload that does not parse
     * although its checksum holds) an {@link UnsupportedFormatException}.
     */
    static Lexical load(Path dir, int dim) throws IOException {
        Path vocabularyFile = dir.resolve(VOCABULARY_FILE);
        Path modulationFile = dir.resolve(MODULATION_FILE);
        Vocabulary v;
        try {
            v = Files.exists(vocabularyFile) ? Vocabulary.load(vocabularyFile) : null;
        } catch (CorruptFileException e) {
            throw classify(vocabularyFile, Vocabulary.CODEC, Vocabulary.FORMAT_VERSION, e);
        }
        LexSemModulation m;
        try {
            m = v != null && Files.exists(modulationFile) ? ModulationFile.load(modulationFile) : null;
        } catch (CorruptFileException e) {
            throw classify(modulationFile, ModulationFile.CODEC, ModulationFile.FRAMED_VERSION, e);
        }
        if (m == null) {
            return null;
        }
        if (m.vocabulary() != v.size() || m.dim() != dim) {
            throw new CorruptFileException(modulationFile, "the modulation (" + m.vocabulary() + " terms x " + m.dim()
                    + ") does not fit the vocabulary (" + v.size() + ") and encoder (" + dim + ")");
        }
        boolean idf = false;
        Tokens tokens = Tokens.TERMS;
        Path settings = dir.resolve(SETTINGS_FILE);
        if (Files.exists(settings)) {
            Properties p = new Properties();
            boolean framed = DurableFile.isFramed(settings);
            if (framed) {
                try (DurableFile.Reader r = DurableFile.open(settings, SETTINGS_CODEC, 1, 1)) {
                    p.load(new StringReader(r.in().readUTF()));
                } catch (EOFException | UTFDataFormatException | IllegalArgumentException e) {
                    throw new UnsupportedFormatException(settings, "intact (its checksum holds) but this build cannot parse it: " + e);
                }
                // Written last by save, naming the exact vocabulary and modulation files of its fit.
                String wantVocabulary = p.getProperty(VOCABULARY_KEY);
                String wantModulation = p.getProperty(MODULATION_KEY);
                if (wantVocabulary != null || wantModulation != null) {
                    String hasVocabulary = fingerprint(vocabularyFile);
                    String hasModulation = fingerprint(modulationFile);
                    if (!hasVocabulary.equals(wantVocabulary) || !hasModulation.equals(wantModulation)) {
                        throw new CorruptFileException(settings, "the modulation's files are not of one fit (a crash or a failed save"
                                + " between them): the settings name vocabulary " + wantVocabulary + " and modulation " + wantModulation
                                + ", the files are " + hasVocabulary + " and " + hasModulation);
                    }
                }
            } else {
                try (var in = Files.newBufferedReader(settings)) {
                    p.load(in);
                } catch (CharacterCodingException | IllegalArgumentException e) {
                    throw new CorruptFileException(settings, "unreadable: " + e.getMessage(), e);
                }
            }
            String weights = p.getProperty("idf-weights", "false");
            if (!weights.equals("true") && !weights.equals("false")) {
                throw framed ? new UnsupportedFormatException(settings, "idf-weights is '" + weights + "' (intact; this build reads true"
                        + " or false)") : new CorruptFileException(settings, "idf-weights is '" + weights + "', not true or false");
            }
            idf = Boolean.parseBoolean(weights);
            try {
                tokens = Tokens.of(p.getProperty("tokens", Tokens.TERMS.wireName()));
            } catch (IllegalArgumentException e) {
                if (framed) {
                    throw new UnsupportedFormatException(settings, e.getMessage() + " (intact: written by another build)");
                }
                throw new CorruptFileException(settings, e.getMessage(), e);
            }
        }
        return new Lexical(v, m, idf, tokens);
    }

    /**
     * A file that did not parse: damage, unless it is framed and its checksum holds (then an intact file this build
     * cannot read, written by another: an {@link UnsupportedFormatException}, left alone).
     */
    private static IOException classify(Path file, String codec, int version, CorruptFileException e) throws IOException {
        if (!DurableFile.isFramed(file)) {
            return e;
        }
        try (DurableFile.Reader r = DurableFile.open(file, codec, version, version)) {
            String m = String.valueOf(e.getMessage());
            UnsupportedFormatException u = new UnsupportedFormatException(file, "intact (its checksum holds) but this build cannot parse it: "
                    + (m.startsWith(file + ": ") ? m.substring(file.toString().length() + 2) : m));
            u.initCause(e);
            return u;
        } catch (CorruptFileException damaged) {
            return e;
        }
    }

    /**
     * Which file this is, for the settings to name the vocabulary and modulation of one fit: its length and the last 4
     * bytes (a {@link DurableFile}'s CRC32C over the whole file), or {@code none}.
     */
    static String fingerprint(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            ByteBuffer tail = ByteBuffer.allocate((int) Math.min(4, size));
            while (tail.hasRemaining() && ch.read(tail, size - tail.capacity() + tail.position()) >= 0) {
                // the last bytes
            }
            return size + ":" + HexFormat.of().formatHex(tail.array());
        } catch (NoSuchFileException e) {
            return "none";
        }
    }

    /** Moves the modulation's files aside (they belong together) and reports them; the damage of the one at fault. */
    static DamageLog.Damage quarantine(Path dir, CorruptFileException e) {
        String reason = "the saved LexSemBridge modulation could not be used (" + e.getMessage()
                + "); the search runs without it until it is fitted again";
        DamageLog.Damage found = null;
        for (String name : List.of(MODULATION_FILE, VOCABULARY_FILE, SETTINGS_FILE)) {
            Path f = dir.resolve(name);
            if (Files.exists(f)) {
                Path moved = Quarantine.moveAside(dir, DocumentIndex.STORE, "modulation file " + name, f, reason);
                DamageLog.Damage d = DamageLog.all().stream()
                        .filter(x -> x.path().equals(f) && Objects.equals(x.quarantinedTo(), moved)).reduce((a, b) -> b)
                        .orElseGet(() -> new DamageLog.Damage(DocumentIndex.STORE, "modulation file " + name, f, moved, reason,
                                Instant.now()));
                if (found == null || f.equals(e.file())) {
                    found = d;
                }
            }
        }
        return found;
    }

    /**
     * Writes the three files, the settings last: they name the exact vocabulary and modulation files written before
     * them ({@link #fingerprint}), so a set left mixed by a crash or a failed save between them is found at open.
     */
    static void save(Path dir, Lexical l) throws IOException {
        l.vocabulary().save(dir.resolve(VOCABULARY_FILE));
        ModulationFile.save(l.modulation(), dir.resolve(MODULATION_FILE));
        String settings = "idf-weights=" + l.idfWeights() + "\ntokens=" + l.tokens().wireName() + "\n"
                + VOCABULARY_KEY + "=" + fingerprint(dir.resolve(VOCABULARY_FILE)) + "\n"
                + MODULATION_KEY + "=" + fingerprint(dir.resolve(MODULATION_FILE)) + "\n";
        DurableFile.write(dir.resolve(SETTINGS_FILE), SETTINGS_CODEC, 1, out -> out.writeUTF(settings));
    }
}
