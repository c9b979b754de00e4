package dev.attend.server;

import java.util.List;

/**
 * Body of {@code GET /health}: {@code ok}, or {@code degraded} while a component has failed or a store has found
 * damage (each listed in {@code problems}; damaged files were moved aside, see the README's security section).
 */
public record HealthResponse(String status, String version, long uptimeSeconds, List<Problem> problems) {

    /** One failure or one piece of damage: where, what, why, when (ISO-8601), and where it was moved (or null). */
    public record Problem(String component, String resource, String reason, String at, String quarantinedAs) {
    }
}
