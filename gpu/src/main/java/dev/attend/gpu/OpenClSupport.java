package dev.attend.gpu;

/**
 * Whether Aparapi is on the class path: the one check that stands before every class of this package that uses it
 * ({@link OpenClScorer}'s devices, shards, build slots and kernels). Aparapi ({@code com.aparapi:aparapi}, which brings
 * Scala) is an optional dependency of attend-gpu: without it the CPU scorers run as ever, device listings are empty
 * (so {@code auto} takes SIMD, as it does where no OpenCL device exists), and an explicit request for an OpenCL
 * scorer fails with {@link #MISSING} rather than a {@code NoClassDefFoundError}.
 */
final class OpenClSupport {

    static final String MISSING = "OpenCL scoring needs com.aparapi:aparapi on the classpath (an optional dependency of"
            + " attend-gpu: the application adds it, as attend-server does), or a CPU scorer: simd, scalar, auto";

    private static final boolean APARAPI = probe();

    private OpenClSupport() {
    }

    /** Whether Aparapi's classes can be loaded here. */
    static boolean aparapiPresent() {
        return APARAPI;
    }

    /** Throws {@link IllegalStateException} ({@link #MISSING}) without Aparapi. */
    static void requireAparapi() {
        if (!APARAPI) {
            throw new IllegalStateException(MISSING);
        }
    }

    private static boolean probe() {
        try {
            Class.forName("com.aparapi.Kernel", false, OpenClSupport.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }
}
