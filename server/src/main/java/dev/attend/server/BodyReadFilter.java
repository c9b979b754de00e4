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
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads every request body whole, within a deadline, before any handler runs: a client that trickles its body gets a
 * 408 and its connection closed once the deadline passes, and since the concurrency permit is taken only after this,
 * slow senders cannot hold the permits that other requests need. A client that goes away mid-body ends its request
 * quietly (logged at debug), not as a server error. Bodies over the size limit pass unread, for the 413.
 */
final class BodyReadFilter implements Filter {

    private static final Logger LOG = LoggerFactory.getLogger(BodyReadFilter.class);

    private final long timeoutNanos;
    private final long maxBodyBytes;
    private final ServerMetrics metrics;

    BodyReadFilter(Duration timeout, long maxBodyBytes, ServerMetrics metrics) {
        this.timeoutNanos = timeout.toNanos();
        this.maxBodyBytes = maxBodyBytes;
        this.metrics = metrics;
    }

    @Override
    public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain) throws IOException, ServletException {
        HttpServletRequest req = (HttpServletRequest) request;
        long declared = req.getContentLengthLong();
        boolean chunked = req.getHeader("Transfer-Encoding") != null;
        if ((declared <= 0 && !chunked) || declared > maxBodyBytes) {
            chain.doFilter(request, response);
            return;
        }
        long deadline = System.nanoTime() + timeoutNanos;
        ByteArrayOutputStream body = new ByteArrayOutputStream(declared > 0 ? (int) declared : 8192);
        byte[] chunk = new byte[64 * 1024];
        try {
            InputStream in = req.getInputStream();
            while (true) {
                if (System.nanoTime() - deadline > 0) {
                    refuseSlow((HttpServletResponse) response);
                    return;
                }
                int n = in.read(chunk);
                if (n < 0) {
                    break;
                }
                body.write(chunk, 0, n);
                if (body.size() > maxBodyBytes) { // a chunked body over the limit: Javalin's own limit answers 413
                    chain.doFilter(new Buffered(req, body.toByteArray()), response);
                    return;
                }
            }
        } catch (IOException e) {
            // The client closed the connection or stalled past Jetty's idle timeout: nobody is left to answer.
            LOG.debug("request body of {} {} not received: {}", req.getMethod(), req.getRequestURI(), e.toString());
            metrics.registry().counter("attend_http_rejected_total", "reason", "body_incomplete").increment();
            return;
        }
        chain.doFilter(new Buffered(req, body.toByteArray()), response);
    }

    private void refuseSlow(HttpServletResponse res) throws IOException {
        metrics.registry().counter("attend_http_rejected_total", "reason", "body_timeout").increment();
        res.setStatus(408);
        res.setHeader("Connection", "close");
        res.setContentType("application/json");
        res.getOutputStream().write(ErrorResponses.toJson(ErrorCodes.REQUEST_TIMEOUT, "the request body did not arrive within "
                + timeoutNanos / 1_000_000 + " ms (" + ConfigKey.BODY_READ_TIMEOUT_MS.property() + ")", Map.of()));
        res.flushBuffer();
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
                    enc == null ? StandardCharsets.UTF_8 : java.nio.charset.Charset.forName(enc)));
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
