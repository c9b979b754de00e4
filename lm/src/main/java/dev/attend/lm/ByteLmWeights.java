package dev.attend.lm;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * The model's weights: every array of {@link ByteLmConfig#expectedShapes()}, read from the {@code .npz} files of the
 * model directory (zips of {@code .npy} arrays, little-endian float16 or float32, C order) into float32. Anything
 * else is an {@link IOException} that names the file and the array: a file or array missing, a shape other than the
 * one the configuration implies, another dtype, Fortran order, a truncated array or zip.
 */
public final class ByteLmWeights {

    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    private final Map<String, float[]> arrays;
    private final Map<String, int[]> shapes;

    private ByteLmWeights(Map<String, float[]> arrays, Map<String, int[]> shapes) {
        this.arrays = arrays;
        this.shapes = shapes;
    }

    /** The array {@code name}, row-major; an {@link IllegalArgumentException} for a name the model does not have. */
    public float[] get(String name) {
        float[] a = arrays.get(name);
        if (a == null) {
            throw new IllegalArgumentException("the model has no array '" + name + "'");
        }
        return a;
    }

    public int[] shape(String name) {
        get(name);
        return shapes.get(name).clone();
    }

    /** Parameters held. */
    public long parameters() {
        return arrays.values().stream().mapToLong(a -> a.length).sum();
    }

    /** Reads every array {@code config} needs from the {@code .npz} files in {@code modelDir}. */
    public static ByteLmWeights load(Path modelDir, ByteLmConfig config) throws IOException {
        // The files: those config.json names, else every *.npz of the directory.
        TreeSet<String> files = new TreeSet<>(config.weightFiles().values());
        if (files.isEmpty()) {
            try (var list = Files.list(modelDir)) {
                list.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".npz")).forEach(files::add);
            }
            if (files.isEmpty()) {
                throw new IOException(modelDir + ": no .npz weight files");
            }
        }
        Map<String, int[]> expected = config.expectedShapes();
        Map<String, float[]> arrays = new LinkedHashMap<>();
        Map<String, int[]> shapes = new LinkedHashMap<>();
        Map<String, String> foundIn = new LinkedHashMap<>();
        for (String f : files) {
            Path file = modelDir.resolve(f);
            if (!Files.isRegularFile(file)) {
                throw new IOException(file + ": weight file missing (config.json lists it for "
                        + config.weightFiles().entrySet().stream().filter(e -> e.getValue().equals(f)).map(Map.Entry::getKey).limit(3).toList()
                        + "...)");
            }
            try (ZipFile zip = new ZipFile(file.toFile())) {
                Enumeration<? extends ZipEntry> entries = zip.entries();
                while (entries.hasMoreElements()) {
                    ZipEntry e = entries.nextElement();
                    String name = e.getName().endsWith(".npy") ? e.getName().substring(0, e.getName().length() - 4) : e.getName();
                    int[] want = expected.get(name);
                    if (want == null) {
                        continue; // an array the forward pass does not use
                    }
                    if (foundIn.containsKey(name)) {
                        throw new IOException(file + ": array '" + name + "' is also in " + foundIn.get(name));
                    }
                    try (InputStream in = zip.getInputStream(e)) {
                        Npy npy = readNpy(in, file, name);
                        if (!Arrays.equals(npy.shape, want)) {
                            throw new IOException(file + ": array '" + name + "' has shape " + Arrays.toString(npy.shape) + ", expected "
                                    + Arrays.toString(want) + " (from config.json's layers, dim, heads, kv_heads, head_dim, ffn_hidden, vocab)");
                        }
                        arrays.put(name, npy.data);
                        shapes.put(name, npy.shape);
                        foundIn.put(name, f);
                    } catch (ZipException | EOFException z) {
                        throw new IOException(file + ": array '" + name + "' is truncated or damaged (" + z.getMessage() + ")", z);
                    }
                }
            } catch (ZipException | NoSuchFileException z) {
                throw new IOException(file + " is not a readable .npz (zip) file: " + z.getMessage(), z);
            }
        }
        for (String name : expected.keySet()) {
            if (!arrays.containsKey(name)) {
                String where = config.weightFiles().get(name);
                throw new IOException((where == null ? modelDir + ": array '" + name + "' is in no weight file"
                        : modelDir.resolve(where) + ": array '" + name + "' is missing (config.json says this file holds it)") + " "
                        + "(read " + files + ")");
            }
        }
        return new ByteLmWeights(arrays, shapes);
    }

    private record Npy(int[] shape, float[] data) {
    }

    private static Npy readNpy(InputStream in, Path file, String name) throws IOException {
        String where = file + ": array '" + name + "'";
        byte[] pre = in.readNBytes(10);
        if (pre.length < 10 || (pre[0] & 0xff) != 0x93 || pre[1] != 'N' || pre[2] != 'U' || pre[3] != 'M' || pre[4] != 'P' || pre[5] != 'Y') {
            throw new IOException(where + " is not a .npy array (bad magic)");
        }
        int major = pre[6] & 0xff;
        long headerLen;
        if (major == 1) {
            headerLen = (pre[8] & 0xff) | (pre[9] & 0xff) << 8;
        } else if (major == 2 || major == 3) {
            byte[] more = in.readNBytes(2);
            if (more.length < 2) {
                throw new IOException(where + " has a truncated .npy header");
            }
            headerLen = (pre[8] & 0xffL) | (pre[9] & 0xffL) << 8 | (more[0] & 0xffL) << 16 | (more[1] & 0xffL) << 24;
        } else {
            throw new IOException(where + " has unsupported .npy version " + major);
        }
        if (headerLen > 1 << 20) {
            throw new IOException(where + " has a .npy header of " + headerLen + " bytes");
        }
        byte[] hb = in.readNBytes((int) headerLen);
        if (hb.length < headerLen) {
            throw new IOException(where + " has a truncated .npy header");
        }
        String header = new String(hb, StandardCharsets.ISO_8859_1);
        Matcher d = DESCR.matcher(header);
        Matcher f = FORTRAN.matcher(header);
        Matcher s = SHAPE.matcher(header);
        if (!d.find() || !f.find() || !s.find()) {
            throw new IOException(where + " has a .npy header without descr, fortran_order or shape: " + header.strip());
        }
        String dtype = d.group(1);
        int width = switch (dtype) {
            case "<f2" -> 2;
            case "<f4" -> 4;
            default -> throw new IOException(where + " has dtype '" + dtype + "': only little-endian float16 ('<f2') and float32 ('<f4') are read");
        };
        if (f.group(1).equals("True")) {
            throw new IOException(where + " is in Fortran order: only C order is read");
        }
        String[] parts = s.group(1).split(",");
        int[] shape = Arrays.stream(parts).map(String::strip).filter(p -> !p.isEmpty()).mapToInt(p -> {
            try {
                return Integer.parseInt(p.endsWith("L") ? p.substring(0, p.length() - 1) : p);
            } catch (NumberFormatException e) {
                return -1;
            }
        }).toArray();
        long count = 1;
        for (int x : shape) {
            if (x < 0) {
                throw new IOException(where + " has a bad shape (" + s.group(1) + ")");
            }
            count *= x;
        }
        if (count > Integer.MAX_VALUE / 4) {
            throw new IOException(where + " is too large (" + count + " values)");
        }
        byte[] raw = in.readNBytes((int) count * width);
        if (raw.length < count * width) {
            throw new IOException(where + " is truncated: shape " + Arrays.toString(shape) + " needs " + count * width + " bytes of "
                    + dtype + ", the file holds " + raw.length);
        }
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        float[] data = new float[(int) count];
        if (width == 2) {
            for (int i = 0; i < data.length; i++) {
                data[i] = Float.float16ToFloat(b.getShort());
            }
        } else {
            b.asFloatBuffer().get(data);
        }
        for (int i = 0; i < data.length; i++) {
            if (!Float.isFinite(data[i])) {
                throw new IOException(where + " holds a value that is not finite (" + data[i] + ") at index " + i);
            }
        }
        return new Npy(shape, data);
    }
}
