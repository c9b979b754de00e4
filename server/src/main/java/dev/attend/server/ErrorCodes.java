package dev.attend.server;

/** The stable error codes of the API, and the code used when only an HTTP status is known. */
public final class ErrorCodes {

    public static final String BAD_REQUEST = "bad_request";
    public static final String UNAUTHORIZED = "unauthorized";
    public static final String FORBIDDEN = "forbidden";
    public static final String NOT_FOUND = "not_found";
    public static final String METHOD_NOT_ALLOWED = "method_not_allowed";
    public static final String CONFLICT = "conflict";
    public static final String PAYLOAD_TOO_LARGE = "payload_too_large";
    public static final String UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type";
    public static final String TOO_MANY_REQUESTS = "too_many_requests";
    public static final String INTERNAL = "internal";
    public static final String UNAVAILABLE = "unavailable";
    public static final String REQUEST_TIMEOUT = "request_timeout";
    /** 507: the disk is full; nothing of the request was applied. */
    public static final String INSUFFICIENT_STORAGE = "insufficient_storage";
    /** 503: the store could not read or write its files (other than a full disk); nothing of the request was applied. */
    public static final String STORAGE_UNAVAILABLE = "storage_unavailable";

    private ErrorCodes() {
    }

    /** Code for failures raised by Javalin or Jetty, which only carry a status. */
    public static String forStatus(int status) {
        return switch (status) {
            case 400 -> BAD_REQUEST;
            case 401 -> UNAUTHORIZED;
            case 403 -> FORBIDDEN;
            case 404 -> NOT_FOUND;
            case 405 -> METHOD_NOT_ALLOWED;
            case 408 -> REQUEST_TIMEOUT;
            case 409 -> CONFLICT;
            case 413 -> PAYLOAD_TOO_LARGE;
            case 415 -> UNSUPPORTED_MEDIA_TYPE;
            case 429 -> TOO_MANY_REQUESTS;
            case 503 -> UNAVAILABLE;
            case 507 -> INSUFFICIENT_STORAGE;
            default -> status >= 500 ? INTERNAL : "http_" + status;
        };
    }
}
