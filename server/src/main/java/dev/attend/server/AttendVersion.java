package dev.attend.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/** The build's version, read from a resource Maven filters, so it is right in IDEs and fat jars alike. */
public final class AttendVersion {

    private static final String RESOURCE = "version.properties";
    private static final String VERSION = load();

    private AttendVersion() {
    }

    public static String get() {
        return VERSION;
    }

    private static String load() {
        try (InputStream in = AttendVersion.class.getResourceAsStream(RESOURCE)) {
            if (in != null) {
                Properties props = new Properties();
                props.load(in);
                String version = props.getProperty("version", "").strip();
                // An unfiltered resource (e.g. run straight from sources) still holds the placeholder.
                if (!version.isEmpty() && !version.startsWith("${")) {
                    return version;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + RESOURCE, e);
        }
        String fromManifest = AttendVersion.class.getPackage().getImplementationVersion();
        return fromManifest != null ? fromManifest : "unknown";
    }
}
