package dev.attend.server;

import java.util.List;
import java.util.Map;

/**
 * Body of {@code GET /health}: {@code ok}, or {@code degraded} while a component has failed or a store has found
 * damage (each listed in {@code problems}; damaged files were moved aside, see the README's security section), and
 * each component's own state ({@code http}, {@code storage}, and where they run {@code kafka}, {@code topology}).
 */
public record HealthResponse(String status, String version, long uptimeSeconds, Map<String, Component> components, List<Problem> problems) {

    /** One failure or one piece of damage: where, what, why, when (ISO-8601), and where it was moved (or null). */
    public record Problem(String component, String resource, String reason, String at, String quarantinedAs) {
    }

    /** A component's state: {@code ok}, {@code degraded} or {@code off} (not used by this server), and what it is. */
    public record Component(String status, String detail) {

        public static Component ok(String detail) {
            return new Component("ok", detail);
        }

        public static Component degraded(String detail) {
            return new Component("degraded", detail);
        }

        public static Component off(String detail) {
            return new Component("off", detail);
        }
    }
}
