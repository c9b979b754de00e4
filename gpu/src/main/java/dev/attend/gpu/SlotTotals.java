package dev.attend.gpu;

/**
 * What an OpenCL scorer's range top-k calls (index builds) took of its device slots since it was made, summed over
 * the calling threads: together with the wall time they say whether builds wait on the device's kernels, on the slots
 * (held for launches, transfers and the host steps between them), or on neither.
 *
 * @param calls         range top-k calls that took a slot (one per piece)
 * @param launches      kernel launches, refinements included
 * @param waitSeconds   seconds callers waited for a slot
 * @param heldSeconds   seconds slots were held
 * @param kernelSeconds seconds the device reported for the kernels
 */
public record SlotTotals(long calls, long launches, double waitSeconds, double heldSeconds, double kernelSeconds) {
}
