package dev.attend.retrieval;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;

/** A session's table of KV heads ({@code layer * kvHeads + kvHead}), each made at its first write: a declared shape costs nothing until written. */
final class SessionHeads {

    /** Makes the head of {@code layer}, {@code kvHead}. */
    interface Factory {
        SessionHead make(int layer, int kvHead);
    }

    private final KvSessionConfig config;
    private final Factory factory;
    private final AtomicReferenceArray<SessionHead> heads;

    SessionHeads(KvSessionConfig config, Factory factory) {
        this.config = config;
        this.factory = factory;
        this.heads = new AtomicReferenceArray<>(config.layers() * config.kvHeads());
    }

    /** The head, or null when it was never written; checks the layer and head. */
    SessionHead existing(int layer, int kvHead) {
        if (layer < 0 || layer >= config.layers()) {
            throw new IllegalArgumentException("layer " + layer + " is not in [0, " + config.layers() + ")");
        }
        if (kvHead < 0 || kvHead >= config.kvHeads()) {
            throw new IllegalArgumentException("KV head " + kvHead + " is not in [0, " + config.kvHeads() + ")");
        }
        return heads.get(layer * config.kvHeads() + kvHead);
    }

    /** The head, made at its first write. */
    SessionHead forWrite(int layer, int kvHead) {
        SessionHead h = existing(layer, kvHead);
        if (h != null) {
            return h;
        }
        SessionHead made = factory.make(layer, kvHead);
        int i = layer * config.kvHeads() + kvHead;
        return heads.compareAndSet(i, null, made) ? made : heads.get(i);
    }

    /** The head for a read or report; a head never written is a blank one (no tokens, not kept). */
    SessionHead orBlank(int layer, int kvHead) {
        SessionHead h = existing(layer, kvHead);
        return h != null ? h : factory.make(layer, kvHead);
    }

    /** The heads written so far. */
    List<SessionHead> made() {
        List<SessionHead> out = new ArrayList<>();
        for (int i = 0; i < heads.length(); i++) {
            SessionHead h = heads.get(i);
            if (h != null) {
                out.add(h);
            }
        }
        return out;
    }
}
