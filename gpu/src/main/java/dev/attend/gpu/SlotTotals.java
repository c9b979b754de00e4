package dev.attend.gpu;

/**
 * What an OpenCL scorer's range top-k calls (index builds) took since it was made, summed over the calling threads:
 * together with the wall time they say whether builds wait on the device, on the slots (held for launches, transfers
 * and the steps between them), or on the host's steps around them.
 *
 * @param calls         range top-k calls that took a slot (one per piece)
 * @param launches      kernel launches, refinements included
 * @param waitSeconds   seconds callers waited for a slot
 * @param heldSeconds   seconds slots were held
 * @param launchSeconds seconds inside launches and the copies of their lists back (the device's part of the held time)
 * @param layoutSeconds seconds laying queries and rows out before a slot was asked for
 * @param mergeSeconds  seconds merging lists into the callers' collectors after the slot was given back
 */
public record SlotTotals(long calls, long launches, double waitSeconds, double heldSeconds, double launchSeconds,
                         double layoutSeconds, double mergeSeconds) {

    static final SlotTotals NONE = new SlotTotals(0, 0, 0, 0, 0, 0, 0);
}
