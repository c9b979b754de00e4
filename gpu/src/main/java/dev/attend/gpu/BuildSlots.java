package dev.attend.gpu;

import com.aparapi.device.OpenCLDevice;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@link BuildSlot}s of one OpenCL scorer: at most {@code max}, each one OpenCL context with one store's range
 * resident, handed to one caller at a time. Calls on different stores proceed side by side (the device time-slices
 * the contexts, so one call's host steps overlap another's kernels); a caller whose range another slot holds gets that
 * slot, waiting while it is busy rather than copying the rows again. A slot whose store was released is disposed; one
 * whose store became unreachable is reused first, so device memory stays within {@code max} slots.
 */
final class BuildSlots {

    private final OpenCLDevice device;
    private final int max;
    private final List<BuildSlot> slots = new ArrayList<>();
    private long clock;
    private boolean closed;

    BuildSlots(OpenCLDevice device, int max) {
        if (max < 1) {
            throw new IllegalArgumentException("at least one build slot is needed, got " + max);
        }
        this.device = device;
        this.max = max;
    }

    /**
     * A slot for rows [from, to) of {@code keys}, exclusively the caller's until {@link #release}: the one holding
     * them, else a free one (vacant first, then the least recently used), else a new one while fewer than max exist;
     * otherwise waits. Null once closed, or when the waiting thread is interrupted (its interrupt flag set again).
     */
    synchronized BuildSlot acquire(VectorStore keys, int from, int to) {
        while (!closed) {
            BuildSlot holder = null;
            BuildSlot free = null;
            for (BuildSlot s : slots) {
                if (s.retired) {
                continue;
            }
            if (s.covers(keys, from, to)) {
                    holder = s;
                } else if (!s.busy && (free == null || rank(s) < rank(free))) {
                    free = s;
                }
            }
            BuildSlot chosen = holder != null ? (holder.busy ? null : holder) : free;
            if (chosen == null && holder == null && slots.size() < max) {
                chosen = new BuildSlot(device);
                slots.add(chosen);
            }
            if (chosen != null) {
                chosen.busy = true;
                return chosen;
            }
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
        return null;
    }

    /** Vacant slots first, then by last use. */
    private static long rank(BuildSlot s) {
        return s.vacant() ? Long.MIN_VALUE : s.lastUse;
    }

    /** Gives a slot back (disposing it when the pool was closed or its store released meanwhile). */
    synchronized void release(BuildSlot slot) {
        slot.busy = false;
        slot.lastUse = ++clock;
        if (closed || slot.retired) {
            slots.remove(slot);
            slot.close();
        }
        notifyAll();
    }

    /** Disposes the slots holding rows of {@code keys} (a busy one when its caller gives it back). */
    synchronized void forget(VectorStore keys) {
        for (BuildSlot s : List.copyOf(slots)) {
            if (s.holds(keys)) {
                s.retired = true;
                if (!s.busy) {
                    slots.remove(s);
                    s.close();
                }
            }
        }
        notifyAll();
    }

    /** Whether some slot holds rows [from, to) of {@code keys} (busy or not). */
    synchronized boolean covered(VectorStore keys, int from, int to) {
        for (BuildSlot s : slots) {
            if (!s.retired && s.covers(keys, from, to)) {
                return true;
            }
        }
        return false;
    }

    /** Bytes of device buffers in the slots holding rows of {@code keys}. */
    synchronized long bytes(VectorStore keys) {
        long bytes = 0;
        for (BuildSlot s : slots) {
            if (s.holds(keys)) {
                bytes += s.bytes();
            }
        }
        return bytes;
    }

    /** Disposes every idle slot now and each busy one when it is given back; later acquires get null. */
    synchronized void close() {
        closed = true;
        for (BuildSlot s : List.copyOf(slots)) {
            if (!s.busy) {
                slots.remove(s);
                s.close();
            }
        }
        notifyAll();
    }
}
