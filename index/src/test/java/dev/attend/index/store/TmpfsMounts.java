package dev.attend.index.store;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The tmpfs mounts of a full-disk test, unmounted after each test: register with
 * {@code @RegisterExtension final TmpfsMounts mounts = new TmpfsMounts();} and {@link #mount} where a test needs one.
 */
public final class TmpfsMounts implements AfterEachCallback {

    private final List<Tmpfs> mounted = new ArrayList<>();

    /** {@link Tmpfs#mount}: a tmpfs of {@code size} on {@code dir}, or null where mounting is refused. */
    public Tmpfs mount(Path dir, String size) throws IOException {
        Tmpfs t = Tmpfs.mount(dir, size);
        if (t != null) {
            mounted.add(t);
        }
        return t;
    }

    @Override
    public void afterEach(ExtensionContext context) {
        mounted.forEach(Tmpfs::close);
        mounted.clear();
    }
}
