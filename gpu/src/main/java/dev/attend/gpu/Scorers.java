package dev.attend.gpu;

import java.util.Locale;

/** Creates scorers by name: the one place that turns configuration into a backend. */
public final class Scorers {

    /** Backend names accepted by {@link #create(String)}. */
    public static final String NAMES = "auto, simd, opencl, opencl-gpu, opencl-cpu, scalar";

    private Scorers() {
    }

    /**
     * {@code auto}: an OpenCL GPU when one exists, else SIMD (on a CPU the SIMD path reads memory at
     * least as fast as OpenCL; without Aparapi on the class path no OpenCL device exists). {@code opencl}: GPU, else
     * OpenCL CPU, else SIMD with a warning; without Aparapi the {@code opencl} names throw
     * {@link IllegalStateException}.
     */
    public static Scorer create(String backend) {
        return switch (backend.toLowerCase(Locale.ROOT)) {
            case "auto" -> OpenClDevices.anyGpu()
                    ? new OpenClScorer(OpenClScorer.Target.GPU)
                    : new SimdScorer();
            case "simd" -> new SimdScorer();
            case "opencl" -> new OpenClScorer(OpenClScorer.Target.GPU_THEN_CPU);
            case "opencl-gpu" -> new OpenClScorer(OpenClScorer.Target.GPU);
            case "opencl-cpu" -> new OpenClScorer(OpenClScorer.Target.CPU);
            case "scalar" -> new ScalarScorer();
            default -> throw new IllegalArgumentException("unknown scorer backend '" + backend + "'; choose one of " + NAMES);
        };
    }
}
