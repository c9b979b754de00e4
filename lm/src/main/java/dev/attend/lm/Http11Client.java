package dev.attend.lm;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * A lean HTTP/1.1 client of one {@code http://} server: persistent connections over plain sockets with
 * {@code TCP_NODELAY}, each request written at once (one write up to 64 KiB) and its answer read on the calling
 * thread (no selector or executor threads between them). Bodies are byte arrays with a {@code Content-Length}; answers may come with a
 * {@code Content-Length}, chunked, or (without either) up to the end of the connection. Connections are kept for the
 * next request unless the server says {@code Connection: close}, answers in HTTP/1.0, or a request on them fails.
 * Safe for concurrent use: each request takes an idle connection or opens one.
 *
 * <p>A request that fails on a reused connection before any byte of the answer arrived (the server closed it while
 * idle) is sent once more on a new connection, never one that timed out. Attend's KV writes name the position they
 * write to, so one that did reach the server is refused on replay rather than applied twice. Writes have no timeout of
 * their own: a server that stops reading a body closes the connection at its idle timeout.
 */
public final class Http11Client implements AutoCloseable {

    /** Largest status line plus headers of an answer. */
    static final int MAX_HEAD_BYTES = 64 * 1024;
    /** Largest answer body. */
    static final int MAX_BODY_BYTES = 64 << 20;
    /** Bodies up to this size go out in the same write as the request's head. */
    private static final int ONE_WRITE_BYTES = 64 * 1024;

    private final String host;
    private final int port;
    private final String hostHeader;
    private final int connectTimeoutMillis;
    private final int readTimeoutMillis;
    private final ConcurrentLinkedDeque<Connection> idle = new ConcurrentLinkedDeque<>();
    private volatile boolean closed;

    /** An answer: its status, its headers (names in lower case; repeated ones joined with a comma) and its body. */
    public record Response(int status, Map<String, String> headers, byte[] body) {

        /** The header {@code name} (any case), or null. */
        public String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }
    }

    /**
     * A client of the server at {@code base} ({@code http://host:port}, any path ignored); {@code readTimeout} bounds
     * each wait for the server's bytes.
     */
    public Http11Client(URI base, Duration connectTimeout, Duration readTimeout) {
        Objects.requireNonNull(base, "base");
        if (!"http".equalsIgnoreCase(base.getScheme()) || base.getHost() == null) {
            throw new IllegalArgumentException("expected an http://host:port URL, got " + base);
        }
        this.host = base.getHost();
        this.port = base.getPort() < 0 ? 80 : base.getPort();
        this.hostHeader = (host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host) + (base.getPort() < 0 ? "" : ":" + port);
        this.connectTimeoutMillis = Math.toIntExact(Math.max(1, connectTimeout.toMillis()));
        this.readTimeoutMillis = Math.toIntExact(Math.clamp(readTimeout.toMillis(), 1, Integer.MAX_VALUE));
    }

    /**
     * Sends {@code method target} ({@code target}: the path and query, e.g. {@code /v1/kv/sessions?x=1}) with
     * {@code headers} (name, value, name, value, ...) and {@code body} (null: none; a {@code Content-Length} is added
     * for a body) and returns the answer, whatever its status. An {@link IOException} when no whole answer came.
     */
    public Response send(String method, String target, byte[] body, String... headers) throws IOException {
        byte[] head = head(method, target, body, headers);
        Connection c = idle.pollFirst();
        boolean reused = c != null;
        if (c == null) {
            c = open();
        }
        try {
            return exchange(c, method, head, body);
        } catch (IOException e) {
            // not after a read timeout: the server may still be working on the request
            if (!reused || c.answerStarted || closed || e instanceof SocketTimeoutException) {
                throw e;
            }
        }
        return exchange(open(), method, head, body); // the idle connection was closed by the server: once more
    }

    /** Closes the idle connections; those in use close when their request ends. */
    @Override
    public void close() {
        closed = true;
        for (Connection c; (c = idle.pollFirst()) != null; ) {
            c.close();
        }
    }

    private Response exchange(Connection c, String method, byte[] head, byte[] body) throws IOException {
        boolean keep = false;
        try {
            c.answerStarted = false;
            try {
                c.write(head, body);
            } catch (IOException e) {
                // The server may have answered and closed without reading the body (a 413, a 401): that answer, if it came.
                try {
                    return c.read(method);
                } catch (IOException ignored) {
                    throw e;
                }
            }
            Response r = c.read(method);
            keep = c.reusable;
            return r;
        } finally {
            if (keep && !closed) {
                idle.offerFirst(c);
                if (closed) { // close() ran meanwhile: it may have missed this one
                    close();
                }
            } else {
                c.close();
            }
        }
    }

    private Connection open() throws IOException {
        if (closed) {
            throw new IOException("the client is closed");
        }
        Socket s = new Socket();
        try {
            s.setTcpNoDelay(true); // requests are whole when written: Nagle's wait for an ACK would only delay them
            s.setKeepAlive(true);
            s.connect(new InetSocketAddress(host, port), connectTimeoutMillis);
            s.setSoTimeout(readTimeoutMillis);
            return new Connection(s);
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /** The request line and headers, checked: no control characters anywhere (no header or request smuggled in). */
    private byte[] head(String method, String target, byte[] body, String... headers) {
        if (!method.chars().allMatch(ch -> ch >= 'A' && ch <= 'Z') || method.isEmpty()) {
            throw new IllegalArgumentException("bad method " + method);
        }
        if (!target.startsWith("/") || target.chars().anyMatch(ch -> ch <= ' ' || ch >= 0x7f)) {
            throw new IllegalArgumentException("a request target is a path with no spaces or control characters, got " + target);
        }
        if (headers.length % 2 != 0) {
            throw new IllegalArgumentException("headers come as name, value pairs");
        }
        StringBuilder b = new StringBuilder(160).append(method).append(' ').append(target).append(" HTTP/1.1\r\nHost: ").append(hostHeader)
                .append("\r\n");
        for (int i = 0; i < headers.length; i += 2) {
            String name = headers[i];
            String value = headers[i + 1];
            if (name.isEmpty() || name.chars().anyMatch(ch -> ch <= ' ' || ch >= 0x7f || ch == ':')
                    || value.chars().anyMatch(ch -> (ch < ' ' && ch != '\t') || ch >= 0x7f)) {
                throw new IllegalArgumentException("bad header " + name);
            }
            b.append(name).append(": ").append(value).append("\r\n");
        }
        if (body != null) {
            b.append("Content-Length: ").append(body.length).append("\r\n");
        }
        return b.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1);
    }

    /** One connection: its socket and a read buffer. */
    private static final class Connection {

        private final Socket socket;
        private final InputStream in;
        private final OutputStream out;
        private final byte[] buf = new byte[16 * 1024];
        private int pos;
        private int lim;
        /** Whether a byte of the current answer has arrived. */
        boolean answerStarted;
        /** Whether the answer just read leaves the connection fit for another request. */
        boolean reusable;

        Connection(Socket socket) throws IOException {
            this.socket = socket;
            this.in = socket.getInputStream();
            this.out = socket.getOutputStream();
        }

        void write(byte[] head, byte[] body) throws IOException {
            int n = body == null ? 0 : body.length;
            if (n <= ONE_WRITE_BYTES) {
                byte[] all = new byte[head.length + n];
                System.arraycopy(head, 0, all, 0, head.length);
                if (n > 0) {
                    System.arraycopy(body, 0, all, head.length, n);
                }
                out.write(all);
            } else {
                out.write(head);
                out.write(body);
            }
            out.flush();
        }

        Response read(String method) throws IOException {
            reusable = false;
            answerStarted = pos < lim;
            int status;
            String version;
            Map<String, String> headers;
            int[] headBytes = {0};
            while (true) {
                String line = line(headBytes);
                if (!line.startsWith("HTTP/1.") || line.length() < 12 || line.charAt(8) != ' ' || (line.length() > 12 && line.charAt(12) != ' ')) {
                    throw new IOException("not an HTTP/1.x answer: " + shown(line));
                }
                version = line.substring(0, 8);
                try {
                    status = Integer.parseInt(line.substring(9, 12));
                } catch (NumberFormatException e) {
                    throw new IOException("not an HTTP/1.x status: " + shown(line));
                }
                headers = headers(headBytes);
                if (status >= 200) {
                    break;
                }
                if (status < 100 || status == 101) {
                    throw new IOException("unexpected status " + status);
                }
                // 1xx (100 Continue, 103 Early Hints): the final answer follows
            }
            boolean close = version.equals("HTTP/1.0") || hasToken(headers.get("connection"), "close");
            byte[] body;
            String te = headers.get("transfer-encoding");
            String length = headers.get("content-length");
            if (method.equals("HEAD") || status == 204 || status == 304) {
                body = new byte[0];
            } else if (te != null) {
                if (!lastToken(te).equals("chunked")) {
                    throw new IOException("unsupported Transfer-Encoding: " + shown(te));
                }
                body = chunked();
            } else if (length != null) {
                body = fixed(contentLength(length));
            } else {
                body = untilEnd();
                close = true;
            }
            reusable = !close && pos == lim; // bytes beyond the answer: the connection is out of step
            return new Response(status, Collections.unmodifiableMap(headers), body);
        }

        private Map<String, String> headers(int[] headBytes) throws IOException {
            Map<String, String> headers = new LinkedHashMap<>();
            for (String line; !(line = line(headBytes)).isEmpty(); ) {
                int colon = line.indexOf(':');
                if (colon <= 0 || line.charAt(0) == ' ' || line.charAt(0) == '\t' || line.charAt(colon - 1) == ' ') {
                    throw new IOException("malformed header line: " + shown(line));
                }
                String name = line.substring(0, colon).toLowerCase(Locale.ROOT);
                String value = line.substring(colon + 1).strip();
                headers.merge(name, value, (a, b) -> a + "," + b);
            }
            return headers;
        }

        private static long contentLength(String value) throws IOException {
            long n = -1;
            for (String part : value.split(",")) { // repeated headers were joined: they must agree
                long v;
                try {
                    v = Long.parseLong(part.strip());
                } catch (NumberFormatException e) {
                    throw new IOException("bad Content-Length: " + shown(value));
                }
                if (v < 0 || (n >= 0 && v != n)) {
                    throw new IOException("bad Content-Length: " + shown(value));
                }
                n = v;
            }
            if (n > MAX_BODY_BYTES) {
                throw new IOException("an answer of " + n + " bytes, more than " + MAX_BODY_BYTES);
            }
            return n;
        }

        private byte[] fixed(long n) throws IOException {
            byte[] body = new byte[(int) n];
            readFully(body, 0, body.length);
            return body;
        }

        private byte[] chunked() throws IOException {
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            int[] lineBytes = {0};
            while (true) {
                lineBytes[0] = 0;
                String line = line(lineBytes);
                int semi = line.indexOf(';');
                String hex = (semi < 0 ? line : line.substring(0, semi)).strip();
                long size;
                try {
                    size = hex.isEmpty() || hex.length() > 8 ? -1 : Long.parseLong(hex, 16);
                } catch (NumberFormatException e) {
                    size = -1;
                }
                if (size < 0) {
                    throw new IOException("bad chunk size: " + shown(line));
                }
                if (size == 0) {
                    int[] trailers = {0}; // none used; bounded together, like a head
                    String trailer;
                    do {
                        trailer = line(trailers);
                    } while (!trailer.isEmpty());
                    return body.toByteArray();
                }
                if (body.size() + size > MAX_BODY_BYTES) {
                    throw new IOException("an answer of more than " + MAX_BODY_BYTES + " bytes");
                }
                byte[] chunk = new byte[(int) size];
                readFully(chunk, 0, chunk.length);
                body.write(chunk);
                if (!line(lineBytes).isEmpty()) {
                    throw new IOException("a chunk longer than its size");
                }
            }
        }

        private byte[] untilEnd() throws IOException {
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            body.write(buf, pos, lim - pos);
            pos = lim;
            byte[] chunk = new byte[16 * 1024];
            for (int n; (n = in.read(chunk)) >= 0; ) {
                if (body.size() + n > MAX_BODY_BYTES) {
                    throw new IOException("an answer of more than " + MAX_BODY_BYTES + " bytes");
                }
                body.write(chunk, 0, n);
            }
            return body.toByteArray();
        }

        private void readFully(byte[] b, int off, int len) throws IOException {
            int buffered = Math.min(len, lim - pos);
            System.arraycopy(buf, pos, b, off, buffered);
            pos += buffered;
            for (int done = buffered; done < len; ) {
                int n = in.read(b, off + done, len - done);
                if (n < 0) {
                    throw new EOFException("the connection closed " + (len - done) + " bytes before the end of the answer");
                }
                done += n;
            }
        }

        /** A line ending in CRLF (or LF), without it; {@code count[0]} adds its bytes, bounded by {@link #MAX_HEAD_BYTES}. */
        private String line(int[] count) throws IOException {
            StringBuilder s = new StringBuilder(64);
            while (true) {
                if (pos == lim) {
                    int n = in.read(buf);
                    if (n < 0) {
                        throw new EOFException(answerStarted ? "the connection closed in the middle of the answer"
                                : "the connection closed before an answer");
                    }
                    pos = 0;
                    lim = n;
                    answerStarted = true;
                }
                byte ch = buf[pos++];
                if (++count[0] > MAX_HEAD_BYTES) {
                    throw new IOException("an answer's head or chunk line longer than " + MAX_HEAD_BYTES + " bytes");
                }
                if (ch == '\n') {
                    int end = s.length();
                    if (end > 0 && s.charAt(end - 1) == '\r') {
                        s.setLength(end - 1);
                    }
                    return s.toString();
                }
                s.append((char) (ch & 0xff));
            }
        }

        void close() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing: nothing left to do with it
            }
        }
    }

    private static boolean hasToken(String value, String token) {
        if (value == null) {
            return false;
        }
        for (String t : value.split(",")) {
            if (t.strip().equalsIgnoreCase(token)) {
                return true;
            }
        }
        return false;
    }

    private static String lastToken(String value) {
        String[] parts = value.split(",");
        return parts[parts.length - 1].strip().toLowerCase(Locale.ROOT);
    }

    private static String shown(String s) {
        String t = s.length() > 200 ? s.substring(0, 200) + "..." : s;
        StringBuilder b = new StringBuilder(t.length());
        t.chars().forEach(ch -> b.append(ch < ' ' || ch >= 0x7f ? '?' : (char) ch));
        return b.toString();
    }
}
