package dev.attend.index.store;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A crash test's writer: runs {@code mainClass} in a child JVM on this test's class path, reads the number of each
 * write it acknowledges (one per line, counting from 0) and kills it with SIGKILL once {@code atLeast} are in (no
 * shutdown hook, no flush). What the stores under test promise is then checked against the last number read.
 */
public final class KilledWriter {

    private KilledWriter() {
    }

    /** The last write the child acknowledged before the kill (-1 when none); the child is gone when this returns. */
    public static int run(Class<?> mainClass, int atLeast, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules=jdk.incubator.vector", "-cp", System.getProperty("java.class.path"), mainClass.getName()));
        command.addAll(List.of(args));
        Process child = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        int acknowledged = -1;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                acknowledged = Integer.parseInt(line.strip());
                if (acknowledged >= atLeast) {
                    child.destroyForcibly(); // SIGKILL: no shutdown hooks, no flush
                    break;
                }
            }
        } finally {
            child.destroyForcibly();
            if (!child.waitFor(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException(mainClass.getSimpleName() + " did not end within 30 s of SIGKILL");
            }
        }
        return acknowledged;
    }
}
