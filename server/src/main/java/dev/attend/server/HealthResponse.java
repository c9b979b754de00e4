package dev.attend.server;

/** Body of {@code GET /health}. */
public record HealthResponse(String status, String version, long uptimeSeconds) {
}
