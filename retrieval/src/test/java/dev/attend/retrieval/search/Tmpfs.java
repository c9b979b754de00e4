package dev.attend.retrieval.search;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** A small tmpfs for full-disk tests, where this machine lets the test mount one (root on Linux); else null. */
final class Tmpfs {

    private Tmpfs() {
    }

    /** Mounts a tmpfs of {@code size} (as mount's option: {@code 2m}) on {@code dir}; false where refused (or {@code -Dattend.test.noMount=true}). */
    static boolean mount(Path dir, String size) {
        if (!System.getProperty("os.name", "").startsWith("Linux") || Boolean.getBoolean("attend.test.noMount")) {
            return false;
        }
        try {
            Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", dir.toString())
                    .redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    static void umount(Path dir) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("umount", dir.toString()).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        p.waitFor(30, TimeUnit.SECONDS);
    }

    /** Writes {@code filler} until the file system refuses a byte more; returns the bytes written. */
    static long fill(Path filler) throws IOException {
        long n = 0;
        byte[] chunk = new byte[4096];
        try (var out = java.nio.file.Files.newOutputStream(filler)) {
            while (true) {
                out.write(chunk);
                out.flush();
                n += chunk.length;
            }
        } catch (IOException e) {
            if (!dev.attend.index.store.StorageErrors.isDiskFull(e)) {
                throw e;
            }
        }
        return n;
    }
}
