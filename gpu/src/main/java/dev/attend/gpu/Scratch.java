package dev.attend.gpu;

/**
 * A per-thread work array that is reused from call to call instead of allocated: a recommender request scores
 * 1,000 candidates against 10^4 behaviours with some 7 MB of short-lived arrays, and the young collections they
 * cause (4-9 ms each on 2 cores, every 50 requests) were what set its p99. Arrays above {@code maxFloats} are not
 * kept, so a thread holds at most that much. Contents are not cleared between uses: callers write before they read.
 */
public final class Scratch {

    private final ThreadLocal<float[]> slot = new ThreadLocal<>();
    private final ThreadLocal<long[]> longSlot = new ThreadLocal<>();
    private final int maxFloats;

    /** Arrays of up to {@code maxFloats} elements are kept, of floats and of longs alike. */
    public Scratch(int maxFloats) {
        this.maxFloats = maxFloats;
    }

    /** An array of at least {@code n} longs, this thread's own until its next call (apart from {@link #floats}'). */
    public long[] longs(int n) {
        long[] a = longSlot.get();
        if (a != null && a.length >= n) {
            return a;
        }
        a = new long[n];
        if (n <= maxFloats) {
            longSlot.set(a);
        }
        return a;
    }

    /** An array of at least {@code n} floats, this thread's own until its next call. */
    public float[] floats(int n) {
        float[] a = slot.get();
        if (a != null && a.length >= n) {
            return a;
        }
        a = new float[n];
        if (n <= maxFloats) {
            slot.set(a);
        }
        return a;
    }
}
