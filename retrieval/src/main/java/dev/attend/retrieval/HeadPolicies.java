package dev.attend.retrieval;

import dev.attend.retrieval.policy.HeadPolicy;
import dev.attend.retrieval.policy.PolicyChooser;
import java.util.Collections;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Which {@link HeadPolicy} each KV head of a session follows: one for every head, and overrides for single heads
 * keyed {@code "layer/kvHead"}. A name is one of {@link HeadPolicy#NAMES} (with the session's sinks, window and
 * top-k), or {@code auto} / {@code auto:<mass>}: the head's policy is chosen from its prefill when the prefill ends
 * ({@link PolicyChooser}: streaming when the prefill queries put less than {@code mass} of their attention outside
 * sinks + window, default {@value PolicyChooser#DEFAULT_MAX_MASS_OUTSIDE}; otherwise retrieval or retrieval+tail).
 *
 * @param defaultPolicy the policy of every head without an override ({@code retrieval} unless set)
 * @param perHead       overrides, {@code "layer/kvHead" -> name}
 */
public record HeadPolicies(String defaultPolicy, Map<String, String> perHead) {

    /** The name of the built-in policy: the session's own attention-aware (or HNSW) index, built in the background. */
    public static final String RETRIEVAL = "retrieval";
    private static final String AUTO = "auto";

    public HeadPolicies {
        defaultPolicy = normalise(defaultPolicy == null ? RETRIEVAL : defaultPolicy);
        Map<String, String> sorted = new TreeMap<>();
        for (Map.Entry<String, String> e : (perHead == null ? Map.<String, String>of() : perHead).entrySet()) {
            sorted.put(e.getKey().strip(), normalise(e.getValue()));
        }
        perHead = Collections.unmodifiableMap(sorted);
    }

    /** Every head on {@code retrieval}. */
    public static HeadPolicies defaults() {
        return new HeadPolicies(RETRIEVAL, Map.of());
    }

    /** The name a head follows (as configured: {@code auto...} until its prefill is measured). */
    public String nameOf(int layer, int kvHead) {
        return perHead.getOrDefault(layer + "/" + kvHead, defaultPolicy);
    }

    /** Whether every head uses the built-in retrieval (the session as it was before policies). */
    public boolean allRetrieval() {
        return defaultPolicy.equals(RETRIEVAL) && perHead.values().stream().allMatch(RETRIEVAL::equals);
    }

    /** Whether {@code name} asks for a choice from the prefill. */
    public static boolean isAuto(String name) {
        return name.equals(AUTO) || name.startsWith(AUTO + ":");
    }

    /** The mass threshold of an {@code auto} name. */
    public static double autoMass(String name) {
        if (name.equals(AUTO)) {
            return PolicyChooser.DEFAULT_MAX_MASS_OUTSIDE;
        }
        String t = name.substring(AUTO.length() + 1);
        double mass;
        try {
            mass = Double.parseDouble(t);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + name + "': the mass threshold must be a number, got '" + t + "'");
        }
        if (!(mass >= 0 && mass <= 1)) {
            throw new IllegalArgumentException("'" + name + "': the mass threshold must be in [0, 1], got " + mass);
        }
        return mass;
    }

    /** The policy a configured (not auto) name means in {@code config}'s session. */
    public static HeadPolicy resolve(String name, KvSessionConfig config) {
        return HeadPolicy.parse(name, config.sinkTokens(), config.windowTokens(), config.topK());
    }

    /** Checks every name and head key against the session's shape; a clear error names the first wrong one. */
    void check(KvSessionConfig config) {
        checkName(defaultPolicy, config);
        for (Map.Entry<String, String> e : perHead.entrySet()) {
            String[] parts = e.getKey().split("/");
            int layer;
            int kvHead;
            try {
                if (parts.length != 2) {
                    throw new NumberFormatException();
                }
                layer = Integer.parseInt(parts[0].strip());
                kvHead = Integer.parseInt(parts[1].strip());
            } catch (NumberFormatException ex) {
                throw new IllegalArgumentException("head policy key '" + e.getKey() + "' is not 'layer/kvHead' (e.g. '0/3')");
            }
            if (layer < 0 || layer >= config.layers() || kvHead < 0 || kvHead >= config.kvHeads()) {
                throw new IllegalArgumentException("head policy key '" + e.getKey() + "' names no head of a session of " + config.layers()
                        + " layers x " + config.kvHeads() + " KV heads");
            }
            checkName(e.getValue(), config);
        }
        if (!allRetrieval() && (config.retriever() != KvSessionConfig.Retriever.ATTENTION_AWARE || config.indexPerQueryHead())) {
            throw new IllegalArgumentException("head policies other than retrieval use one attention-aware index per KV head: they do not"
                    + " combine with retriever hnsw or indexPerQueryHead");
        }
    }

    private static void checkName(String name, KvSessionConfig config) {
        if (isAuto(name)) {
            autoMass(name);
        } else {
            resolve(name, config);
        }
    }

    private static String normalise(String name) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("a head policy name is required (auto, auto:<mass>, " + HeadPolicy.NAMES + ")");
        }
        return name.strip().toLowerCase(Locale.ROOT);
    }
}
