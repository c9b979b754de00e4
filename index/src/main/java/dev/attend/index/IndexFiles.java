package dev.attend.index;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.Reader;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * Crash-safe index directories, the way Lucene commits segments: each save writes a new generation
 * of files ({@code name.<gen>}), forces them to disk, then atomically renames a fresh {@code CURRENT}
 * file (holding the generation) into place and forces the directory. A crash at any point leaves the
 * previous generation readable. Older generations are deleted after the switch.
 */
public final class IndexFiles {

    private static final String CURRENT = "CURRENT";
    private static final String META = "meta.properties";

    private IndexFiles() {
    }

    /** Writes one file's content. */
    @FunctionalInterface
    public interface Content {
        void write(DataOutputStream out) throws IOException;
    }

    /** A committed generation: its metadata and the paths of its files. */
    public record Generation(Path dir, long number, Properties meta) {

        public Path file(String name) {
            return dir.resolve(name + "." + number);
        }

        /**
         * Opens file {@code name} of this generation for reading; with {@code expectedBytes >= 0} it
         * must hold exactly that many bytes (a truncated or foreign file is refused before parsing).
         */
        public DataInputStream read(String name, long expectedBytes) throws IOException {
            Path file = file(name);
            if (expectedBytes >= 0 && Files.size(file) != expectedBytes) {
                throw new IOException(file + " holds " + Files.size(file) + " bytes, its metadata promises " + expectedBytes);
            }
            return new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16));
        }

        public String require(String key) throws IOException {
            String v = meta.getProperty(key);
            if (v == null) {
                throw new IOException(file(META) + " lacks '" + key + "'");
            }
            return v;
        }

        /** The value of {@code key}, or {@code fallback} when the file predates it. */
        public String optional(String key, String fallback) {
            return meta.getProperty(key, fallback);
        }
    }

    /** Commits {@code meta} (with {@code type}) and {@code files} as the next generation of {@code dir}. */
    public static void commit(Path dir, String type, Properties meta, Map<String, Content> files) throws IOException {
        Files.createDirectories(dir);
        long previous = currentNumber(dir);
        long gen = Math.max(previous, System.currentTimeMillis()) + 1;
        Properties all = new Properties();
        all.putAll(meta);
        all.setProperty("type", type);
        Map<String, Content> everything = new LinkedHashMap<>(files);
        everything.put(META, out -> all.store(new OutputStreamWriter(out, StandardCharsets.UTF_8), "Attend index"));
        for (Map.Entry<String, Content> e : everything.entrySet()) {
            Path file = dir.resolve(e.getKey() + "." + gen);
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                 OutputStream os = Channels.newOutputStream(ch);
                 DataOutputStream out = new DataOutputStream(new BufferedOutputStream(os, 1 << 16))) {
                e.getValue().write(out);
                out.flush();
                ch.force(true);
            }
        }
        Path tmp = dir.resolve(CURRENT + ".tmp");
        Files.writeString(tmp, Long.toString(gen), StandardCharsets.US_ASCII);
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        try {
            Files.move(tmp, dir.resolve(CURRENT), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException(dir + " does not support atomic renames; cannot save crash-safely", e);
        }
        forceDirectory(dir);
        deleteOtherGenerations(dir, gen, everything.keySet());
    }

    /** The committed generation of {@code dir}, checked to be of {@code expectedType}. */
    public static Generation open(Path dir, String expectedType) throws IOException {
        long gen = currentNumber(dir);
        if (gen < 0) {
            throw new NoSuchFileException(dir.resolve(CURRENT).toString(), null, "no index saved in " + dir);
        }
        Properties meta = new Properties();
        try (Reader r = Files.newBufferedReader(dir.resolve(META + "." + gen), StandardCharsets.UTF_8)) {
            meta.load(r);
        }
        Generation g = new Generation(dir, gen, meta);
        String type = g.require("type");
        if (!type.equals(expectedType)) {
            throw new IOException(dir + " holds a " + type + " index, not a " + expectedType);
        }
        return g;
    }

    private static long currentNumber(Path dir) throws IOException {
        Path current = dir.resolve(CURRENT);
        if (!Files.exists(current)) {
            return -1;
        }
        String text = Files.readString(current, StandardCharsets.US_ASCII).strip();
        try {
            return Long.parseLong(text);
        } catch (NumberFormatException e) {
            throw new IOException(current + " is corrupt: '" + text + "'", e);
        }
    }

    private static void forceDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // Some file systems cannot open directories; the rename is still atomic there.
        }
    }

    private static void deleteOtherGenerations(Path dir, long keep, Iterable<String> names) throws IOException {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                int dot = name.lastIndexOf('.');
                if (dot <= 0) {
                    continue;
                }
                String base = name.substring(0, dot);
                String suffix = name.substring(dot + 1);
                boolean ours = false;
                for (String n : names) {
                    ours |= n.equals(base);
                }
                if (ours && suffix.chars().allMatch(Character::isDigit) && !suffix.equals(Long.toString(keep))) {
                    Files.deleteIfExists(f);
                }
            }
        }
    }
}
