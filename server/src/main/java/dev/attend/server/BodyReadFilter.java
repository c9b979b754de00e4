package dev.attend.server;

import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.eclipse.jetty.io.EndPoint;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads every request body whole, within a deadline, before any handler runs: a client that trickles or stalls its body
 * gets a 408 and its connection closed once the deadline passes (the connection's idle timeout is held to the
 * deadline while the body is read), and since the concurrency permit is taken only after this, slow senders cannot
 * hold the permits that other requests need. Buffers grow with the bytes that arrive (never to a declared length up
 * front) and all bodies being read hold at most {@code 16 x maxBodyBytes} together (503 beyond). A client that goes
 * away mid-body ends its request quietly (logged at debug), not as a server error. Bodies over the size limit pass
 * unread, for the 413.
 */
final class BodyReadFilter implements Filter {

    private static final Logger LOG = LoggerFactory.getLogger(BodyReadFilter.class);

    private final long timeoutNanos;
    private final long maxBodyBytes;
    private final long maxBufferedBytes;
    private final AtomicLong buffered = new AtomicLong();
    private final ServerMetrics metrics;

    BodyReadFilter(Duration timeout, long maxBodyBytes, ServerMetrics metrics) {
        this.timeoutNanos = timeout.toNanos();
        this.maxBodyBytes = maxBodyBytes;
        this.maxBufferedBytes = maxBodyBytes > Long.MAX_VALUE / 16 ? Long.MAX_VALUE : 16 * maxBodyBytes;
        this.metrics = metrics;
    }

    @Override
    public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain) throws IOException, ServletException {
        HttpServletRequest req = (HttpServletRequest) request;
        HttpServletResponse res = (HttpServletResponse) response;
        long declared = req.getContentLengthLong();
        boolean chunked = req.getHeader("Transfer-Encoding") != null;
        if ((declared <= 0 && !chunked) || declared > maxBodyBytes) {
            chain.doFilter(request, response);
            return;
        }
        long deadline = System.nanoTime() + timeoutNanos;
        ByteArrayOutputStream body = new ByteArrayOutputStream(8192);
        byte[] chunk = new byte[64 * 1024];
        EndPoint endPoint = endPoint(req);
        long idleBefore = endPoint == null ? -1 : endPoint.getIdleTimeout();
        long held = 0;
        try {
            if (endPoint != null) {
                endPoint.setIdleTimeout(Math.max(1, timeoutNanos / 1_000_000));
            }
            InputStream in = req.getInputStream();
            while (true) {
                if (System.nanoTime() - deadline > 0) {
                    refuse(res, 408, ErrorCodes.REQUEST_TIMEOUT, "body_timeout", "the request body did not arrive within "
                            + timeoutNanos / 1_000_000 + " ms (" + ConfigKey.BODY_READ_TIMEOUT_MS.property() + ")");
                    return;
                }
                int n = in.read(chunk);
                if (n < 0) {
                    break;
                }
                if (buffered.addAndGet(n) > maxBufferedBytes) {
                    buffered.addAndGet(-n);
                    res.setHeader("Retry-After", "1");
                    refuse(res, 503, ErrorCodes.UNAVAILABLE, "body_memory", "the server is reading too many request bodies at once; "
                            + "retry shortly");
                    return;
                }
                held += n;
                body.write(chunk, 0, n);
                if (body.size() > maxBodyBytes) { // a chunked body over the limit: Javalin's own limit answers 413
                    break;
                }
            }
        } catch (IOException e) {
            // The client closed the connection, or stalled until the deadline's idle timeout: answer if anyone is left.
            LOG.debug("request body of {} {} not received: {}", req.getMethod(), req.getRequestURI(), e.toString());
            refuse(res, 408, ErrorCodes.REQUEST_TIMEOUT, "body_incomplete", "the request body did not arrive whole within "
                    + timeoutNanos / 1_000_000 + " ms (" + ConfigKey.BODY_READ_TIMEOUT_MS.property() + ")");
            return;
        } finally {
            if (endPoint != null) {
                endPoint.setIdleTimeout(idleBefore);
            }
            buffered.addAndGet(-held);
        }
        chain.doFilter(new Buffered(req, body.toByteArray()), response);
    }

    /** The connection's end point, to hold its idle timeout to the body's deadline; null where Jetty's types are not at hand. */
    private static EndPoint endPoint(HttpServletRequest req) {
        try {
            var r = ServletContextRequest.getServletContextRequest(req);
            return r == null ? null : r.getConnectionMetaData().getConnection().getEndPoint();
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** Answers in the error shape and closes the connection; quietly nothing when the client is gone. */
    private void refuse(HttpServletResponse res, int status, String code, String reason, String message) {
        metrics.registry().counter("attend_http_rejected_total", "reason", reason).increment();
        if (res.isCommitted()) {
            return;
        }
        try {
            res.setStatus(status);
            res.setHeader("Connection", "close");
            res.setContentType("application/json");
            res.getOutputStream().write(ErrorResponses.toJson(code, message, Map.of()));
            res.flushBuffer();
        } catch (IOException | IllegalStateException gone) {
            LOG.debug("could not answer {}: {}", status, gone.toString());
        }
    }

    /** The request with its body already in memory. */
    private static final class Buffered extends HttpServletRequestWrapper {

        private final byte[] body;

        Buffered(HttpServletRequest request, byte[] body) {
            super(request);
            this.body = body;
        }

        @Override
        public ServletInputStream getInputStream() {
            ByteArrayInputStream in = new ByteArrayInputStream(body);
            return new ServletInputStream() {
                @Override
                public int read() {
                    return in.read();
                }

                @Override
                public int read(byte[] b, int off, int len) {
                    return in.read(b, off, len);
                }

                @Override
                public boolean isFinished() {
                    return in.available() == 0;
                }

                @Override
                public boolean isReady() {
                    return true;
                }

                @Override
                public void setReadListener(ReadListener listener) {
                    throw new IllegalStateException("the body is already read");
                }
            };
        }

        @Override
        public BufferedReader getReader() {
            String enc = getCharacterEncoding();
            return new BufferedReader(new InputStreamReader(new ByteArrayInputStream(body),
                    enc == null ? StandardCharsets.UTF_8 : Charset.forName(enc)));
        }

        @Override
        public int getContentLength() {
            return body.length;
        }

        @Override
        public long getContentLengthLong() {
            return body.length;
        }
    }
}
