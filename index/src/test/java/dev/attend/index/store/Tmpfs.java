package dev.attend.index.store;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A small real file system for full-disk tests: a tmpfs mounted where the machine lets the test (root on Linux, not
 * refused by the container). Tests fall back to an injected failure where {@link #mount} says no, and print which ran.
 * {@code -Dattend.test.noMount=true} forces the fallback.
 */
public final class Tmpfs implements AutoCloseable {

    private final Path dir;

    private Tmpfs(Path dir) {
        this.dir = dir;
    }

    /** Mounts a tmpfs of {@code size} (mount's syntax, e.g. {@code 2m}) on {@code dir} (created); null where refused. */
    public static Tmpfs mount(Path dir, String size) throws IOException {
        if (!System.getProperty("os.name", "").startsWith("Linux") || Boolean.getBoolean("attend.test.noMount")) {
            return null;
        }
        Files.createDirectories(dir);
        return run("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", dir.toString()) ? new Tmpfs(dir) : null;
    }

    public Path dir() {
        return dir;
    }

    /** Writes {@code filler} until the file system refuses a byte more; returns the bytes written. */
    public static long fill(Path filler) throws IOException {
        long n = 0;
        byte[] chunk = new byte[4096];
        try (OutputStream out = Files.newOutputStream(filler)) {
            while (true) {
                out.write(chunk);
                out.flush();
                n += chunk.length;
            }
        } catch (IOException e) {
            if (!StorageErrors.isDiskFull(e)) {
                throw e;
            }
        }
        return n;
    }

    /** Unmounts; a busy mount is detached lazily rather than left behind on the machine. */
    @Override
    public void close() {
        if (!run("umount", dir.toString()) && !run("umount", "-l", dir.toString())) {
            throw new IllegalStateException("could not unmount the test's tmpfs at " + dir);
        }
    }

    private static boolean run(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            boolean exited = p.waitFor(30, TimeUnit.SECONDS);
            if (!exited) {
                p.destroyForcibly();
            }
            boolean ok = exited && p.exitValue() == 0;
            if (!ok) {
                System.out.println("Tmpfs: " + String.join(" ", command) + " failed" + (exited ? " (exit " + p.exitValue() + ")" : " (timed out)"));
            }
            return ok;
        } catch (IOException e) {
            System.out.println("Tmpfs: " + String.join(" ", command) + ": " + e.getMessage());
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
