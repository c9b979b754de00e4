package dev.attend.gpu;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Finds the shared development data ({@code ../shared/data} beside a checkout). A fresh clone has none:
 * callers then fall back to generated data, and tests skip with a printed reason.
 *
 * <p>Looked up, in order: system property {@code attend.shared.data}, environment variable
 * {@code ATTEND_SHARED_DATA}, then {@code ../shared/data} from the working directory and its parents
 * (Maven runs tests from a module folder).
 */
public final class SharedData {

    private SharedData() {
    }

    public static Optional<Path> root() {
        String configured = System.getProperty("attend.shared.data", System.getenv("ATTEND_SHARED_DATA"));
        if (configured != null && !configured.isBlank()) {
            Path p = Path.of(configured);
            return Files.isDirectory(p) ? Optional.of(p.toAbsolutePath().normalize()) : Optional.empty();
        }
        Path dir = Path.of("").toAbsolutePath();
        for (int up = 0; up < 3 && dir != null; up++, dir = dir.getParent()) {
            Path candidate = dir.resolve("../shared/data").normalize();
            if (Files.isDirectory(candidate)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }

    /** {@code root()/relative} when it exists. */
    public static Optional<Path> resolve(String relative) {
        return root().map(r -> r.resolve(relative)).filter(Files::exists);
    }
}
