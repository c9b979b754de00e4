package dev.attend.server;

import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/**
 * The Prometheus registry of one server, with the JVM binders attached. Other modules register
 * their own meters on {@link #registry()} so a single scrape shows the whole engine.
 */
public final class ServerMetrics implements AutoCloseable {

    /** Prometheus text exposition 0.0.4, which every Prometheus version scrapes. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
    /** OpenMetrics 1.0, served to a scraper that asks for it in its Accept header. */
    public static final String OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";

    private final PrometheusMeterRegistry registry;
    private final JvmGcMetrics gcMetrics = new JvmGcMetrics();

    public ServerMetrics() {
        this(new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    }

    public ServerMetrics(PrometheusMeterRegistry registry) {
        this.registry = registry;
        new JvmMemoryMetrics().bindTo(registry);
        gcMetrics.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    public String scrape() {
        return registry.scrape();
    }

    /** The content type answered to a scraper's {@code Accept} header (null: none): OpenMetrics when asked for. */
    public static String contentTypeFor(String accept) {
        return accept != null && accept.contains("application/openmetrics-text") ? OPENMETRICS_CONTENT_TYPE : CONTENT_TYPE;
    }

    /** The scrape in {@code contentType} ({@link #CONTENT_TYPE} or {@link #OPENMETRICS_CONTENT_TYPE}). */
    public String scrape(String contentType) {
        return registry.scrape(contentType);
    }

    /** The GC binder holds JMX notification listeners; without this they outlive the server. */
    @Override
    public void close() {
        gcMetrics.close();
    }
}
