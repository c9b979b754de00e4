package dev.attend.server;

/** A configuration value is missing, malformed or unusable; the message names the key and where it came from. */
public class ConfigException extends RuntimeException {

    public ConfigException(String message) {
        super(message);
    }

    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
