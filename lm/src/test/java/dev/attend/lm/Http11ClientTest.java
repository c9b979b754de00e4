package dev.attend.lm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link Http11Client} against real sockets: a small server on loopback that reads each request (line, headers,
 * {@code Content-Length} body) and answers with the bytes a test scripts, well-formed or not, closing when told.
 */
class Http11ClientTest {

    /** A request as the server read it. */
    record Seen(int connection, String line, Map<String, String> headers, byte[] body) {
    }

    /** What to do with a request: the bytes to answer (null: none), and whether to close the connection after them. */
    record Answer(byte[] bytes, boolean close) {
        static Answer of(String text) {
            return new Answer(text.getBytes(StandardCharsets.ISO_8859_1), false);
        }

        static Answer closing(String text) {
            return new Answer(text == null ? null : text.getBytes(StandardCharsets.ISO_8859_1), true);
        }
    }

    interface Script {
        Answer answer(int request, Seen seen) throws Exception;
    }

    /** The scripted server: one thread per connection, every request recorded. */
    static final class Scripted implements AutoCloseable {
        final ServerSocket socket;
        final List<Seen> seen = Collections.synchronizedList(new ArrayList<>());
        final AtomicInteger connections = new AtomicInteger();
        final AtomicInteger requests = new AtomicInteger();
        final Script script;
        final List<Socket> open = Collections.synchronizedList(new ArrayList<>());

        Scripted(Script script) throws IOException {
            this.script = script;
            this.socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            Thread t = new Thread(this::accept, "scripted-accept");
            t.setDaemon(true);
            t.start();
        }

        URI uri() {
            return URI.create("http://127.0.0.1:" + socket.getLocalPort());
        }

        private void accept() {
            while (!socket.isClosed()) {
                try {
                    Socket s = socket.accept();
                    open.add(s);
                    int c = connections.incrementAndGet();
                    Thread t = new Thread(() -> serve(c, s), "scripted-" + c);
                    t.setDaemon(true);
                    t.start();
                } catch (IOException closed) {
                    return;
                }
            }
        }

        private void serve(int connection, Socket s) {
            try (s) {
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                while (true) {
                    String line = line(in);
                    if (line == null) {
                        return;
                    }
                    Map<String, String> headers = new LinkedHashMap<>();
                    for (String h; !(h = line(in)).isEmpty(); ) {
                        int colon = h.indexOf(':');
                        headers.put(h.substring(0, colon).toLowerCase(Locale.ROOT), h.substring(colon + 1).strip());
                    }
                    int length = headers.containsKey("content-length") ? Integer.parseInt(headers.get("content-length")) : 0;
                    byte[] body = in.readNBytes(length);
                    Seen r = new Seen(connection, line, headers, body);
                    seen.add(r);
                    Answer a = script.answer(requests.getAndIncrement(), r);
                    if (a.bytes() != null) {
                        out.write(a.bytes());
                        out.flush();
                    }
                    if (a.close()) {
                        return;
                    }
                }
            } catch (Exception e) {
                // the client went away: this connection is done
            }
        }

        private static String line(InputStream in) throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            for (int c; (c = in.read()) != '\n'; ) {
                if (c < 0) {
                    return null;
                }
                if (c != '\r') {
                    b.write(c);
                }
            }
            return b.toString(StandardCharsets.ISO_8859_1);
        }

        @Override
        public void close() throws IOException {
            socket.close();
            synchronized (open) {
                for (Socket s : open) {
                    s.close();
                }
            }
        }
    }

    private static final String OK_HELLO = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";

    private final List<AutoCloseable> closing = new ArrayList<>();

    private Scripted server(Script script) throws IOException {
        Scripted s = new Scripted(script);
        closing.add(s);
        return s;
    }

    private Http11Client client(Scripted s) {
        return client(s, Duration.ofSeconds(30));
    }

    private Http11Client client(Scripted s, Duration readTimeout) {
        Http11Client c = new Http11Client(s.uri(), Duration.ofSeconds(5), readTimeout);
        closing.add(c);
        return c;
    }

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : closing) {
            c.close();
        }
    }

    @Test
    void requestsGoOutWhole_andOneConnectionServesThemAll() throws Exception {
        Scripted s = server((i, r) -> Answer.of("HTTP/1.1 200 OK\r\nAttend-Echo: " + r.body().length + "\r\nAttend-Echo: again\r\n"
                + "Content-Length: " + r.body().length + "\r\n\r\n" + new String(r.body(), StandardCharsets.ISO_8859_1)));
        Http11Client c = client(s);
        byte[] body = new byte[100_000]; // larger than one write: head and body go separately
        for (int i = 0; i < body.length; i++) {
            body[i] = (byte) i;
        }
        for (int i = 0; i < 3; i++) {
            Http11Client.Response r = c.send("POST", "/v1/x?a=" + i, i == 1 ? body : "abc".getBytes(StandardCharsets.UTF_8),
                    "Content-Type", "application/octet-stream", "Authorization", "Bearer token-0123456789");
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.body()).isEqualTo(i == 1 ? body : "abc".getBytes(StandardCharsets.UTF_8));
            assertThat(r.header("ATTEND-ECHO")).isEqualTo((i == 1 ? body.length : 3) + ",again");
        }
        Http11Client.Response r = c.send("GET", "/health", null);
        assertThat(new String(r.body(), StandardCharsets.UTF_8)).isEmpty();
        assertThat(s.connections.get()).isEqualTo(1);
        Seen first = s.seen.get(0);
        assertThat(first.line()).isEqualTo("POST /v1/x?a=0 HTTP/1.1");
        assertThat(first.headers()).containsEntry("host", "127.0.0.1:" + s.socket.getLocalPort())
                .containsEntry("content-length", "3").containsEntry("content-type", "application/octet-stream")
                .containsEntry("authorization", "Bearer token-0123456789");
        assertThat(s.seen.get(3).line()).isEqualTo("GET /health HTTP/1.1");
        assertThat(s.seen.get(3).headers()).doesNotContainKey("content-length");
    }

    @Test
    void chunkedAnswersAreJoined_interimAnswersSkipped() throws Exception {
        Scripted s = server((i, r) -> Answer.of("HTTP/1.1 100 Continue\r\n\r\n"
                + "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n"));
        Http11Client c = client(s);
        for (int i = 0; i < 2; i++) {
            Http11Client.Response r = c.send("POST", "/p", new byte[] {1});
            assertThat(r.status()).isEqualTo(201);
            assertThat(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo("hello 0123456789");
        }
        assertThat(s.connections.get()).isEqualTo(1);
    }

    @Test
    void anAnswerWithoutLengthEndsWithTheConnection_andTheNextRequestOpensAnother() throws Exception {
        Scripted s = server((i, r) -> i == 0 ? Answer.closing("HTTP/1.1 200 OK\r\n\r\nuntil the end")
                : i == 1 ? Answer.of("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi")
                : i == 2 ? Answer.of("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nho")
                : Answer.of(OK_HELLO));
        Http11Client c = client(s);
        assertThat(new String(c.send("GET", "/a", null).body(), StandardCharsets.UTF_8)).isEqualTo("until the end");
        assertThat(new String(c.send("GET", "/b", null).body(), StandardCharsets.UTF_8)).isEqualTo("hi"); // Connection: close
        assertThat(new String(c.send("GET", "/c", null).body(), StandardCharsets.UTF_8)).isEqualTo("ho"); // HTTP/1.0
        assertThat(new String(c.send("GET", "/d", null).body(), StandardCharsets.UTF_8)).isEqualTo("hello");
        assertThat(s.connections.get()).isEqualTo(4);
    }

    @Test
    void errorAnswersComeBackWithTheirBody_andKeepTheConnection() throws Exception {
        String error = "{\"error\": {\"code\": \"bad_request\", \"message\": \"position 7 is out of order\"}}";
        Scripted s = server((i, r) -> i == 0
                ? Answer.of("HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: " + error.length() + "\r\n\r\n" + error)
                : Answer.of(OK_HELLO));
        Http11Client c = client(s);
        Http11Client.Response r = c.send("POST", "/decode", new byte[8]);
        assertThat(r.status()).isEqualTo(400);
        assertThat(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo(error);
        assertThat(c.send("POST", "/decode", new byte[8]).status()).isEqualTo(200);
        assertThat(s.connections.get()).isEqualTo(1);
    }

    @Test
    void aKeptConnectionThatTheServerClosedIsReplacedOnce() throws Exception {
        // The first answer says keep-alive, then the server closes the connection while it is idle.
        Scripted s = server((i, r) -> i == 0 ? Answer.closing(OK_HELLO) : Answer.of(OK_HELLO));
        Http11Client c = client(s);
        assertThat(c.send("POST", "/first", new byte[4]).status()).isEqualTo(200);
        while (!s.open.getFirst().isClosed()) {
            Thread.sleep(1); // until the server's side is closed
        }
        Http11Client.Response r = c.send("POST", "/second", new byte[4]);
        assertThat(r.status()).isEqualTo(200);
        assertThat(s.connections.get()).isEqualTo(2);
        assertThat(s.seen).extracting(Seen::line).containsExactly("POST /first HTTP/1.1", "POST /second HTTP/1.1");
    }

    @Test
    void aServerThatClosesWithoutAnsweringIsAnError_notRetriedOnAFreshConnection() throws Exception {
        Scripted s = server((i, r) -> Answer.closing(null));
        Http11Client c = client(s);
        assertThatThrownBy(() -> c.send("POST", "/x", new byte[4])).isInstanceOf(EOFException.class)
                .hasMessageContaining("closed before an answer");
        assertThat(s.requests.get()).isEqualTo(1);
    }

    @Test
    void anAnswerCutShortIsAnError_andNotSentAgain() throws Exception {
        Scripted s = server((i, r) -> i != 1 ? Answer.of(OK_HELLO)
                : Answer.closing("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part"));
        Http11Client c = client(s);
        assertThat(c.send("GET", "/a", null).status()).isEqualTo(200);
        assertThatThrownBy(() -> c.send("POST", "/b", new byte[4])).isInstanceOf(EOFException.class)
                .hasMessageContaining("before the end of the answer");
        assertThat(s.requests.get()).isEqualTo(2); // a reused connection, but the answer had begun: no second try
        assertThat(c.send("GET", "/c", null).status()).isEqualTo(200); // a new connection
        assertThat(s.connections.get()).isEqualTo(2);
        assertThat(s.seen).extracting(Seen::line).containsExactly("GET /a HTTP/1.1", "POST /b HTTP/1.1", "GET /c HTTP/1.1");
    }

    @Test
    void aServerThatNeverAnswersTimesOut_andTheRequestIsNotRepeated() throws Exception {
        Scripted s = server((i, r) -> i == 0 ? Answer.of(OK_HELLO) : new Answer(null, false));
        Http11Client c = client(s, Duration.ofMillis(200));
        assertThat(c.send("GET", "/a", null).status()).isEqualTo(200);
        assertThatThrownBy(() -> c.send("POST", "/slow", new byte[4])).isInstanceOf(SocketTimeoutException.class);
        assertThat(s.requests.get()).isEqualTo(2);
    }

    @Test
    void malformedAnswersAreErrors() throws Exception {
        String[] bad = {
            "SSH-2.0-OpenSSH_9.6\r\n\r\n",
            "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + "X: y\r\n".repeat(20_000) + "\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: " + "y".repeat(Http11Client.MAX_HEAD_BYTES) + "\r\n\r\n",
        };
        for (String answer : bad) {
            Scripted s = server((i, r) -> Answer.closing(answer));
            Http11Client c = client(s);
            assertThatThrownBy(() -> c.send("GET", "/", null)).as(answer.substring(0, Math.min(60, answer.length())))
                    .isInstanceOf(IOException.class);
        }
    }

    @Test
    void answersWithoutBodies() throws Exception {
        Scripted s = server((i, r) -> Answer.of(i == 0 ? "HTTP/1.1 204 No Content\r\n\r\n"
                : "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")); // a HEAD answer: the length, no body
        Http11Client c = client(s);
        Http11Client.Response r = c.send("DELETE", "/v1/kv/sessions/a", null);
        assertThat(r.status()).isEqualTo(204);
        assertThat(r.body()).isEmpty();
        r = c.send("HEAD", "/health", null);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).isEmpty();
        assertThat(s.connections.get()).isEqualTo(1);
    }

    @Test
    void nothingCanBeSmuggledIntoARequest() throws Exception {
        Scripted s = server((i, r) -> Answer.of(OK_HELLO));
        Http11Client c = client(s);
        assertThatThrownBy(() -> c.send("GET", "/a HTTP/1.1\r\nX: y", null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> c.send("GET", "a", null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> c.send("GET", "/a", null, "X", "y\r\nEvil: 1")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> c.send("GET", "/a", null, "X: y", "z")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> c.send("GET /a", "/a", null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Http11Client(URI.create("https://127.0.0.1:1"), Duration.ofSeconds(1), Duration.ofSeconds(1)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(s.requests.get()).isZero();
    }

    @Test
    void concurrentRequestsEachGetTheirOwnAnswer() throws Exception {
        Scripted s = server((i, r) -> Answer.of("HTTP/1.1 200 OK\r\nContent-Length: " + r.body().length + "\r\n\r\n"
                + new String(r.body(), StandardCharsets.ISO_8859_1)));
        Http11Client c = client(s);
        List<Thread> threads = new ArrayList<>();
        List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
        for (int t = 0; t < 4; t++) {
            int id = t;
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; i < 50; i++) {
                        byte[] body = ("thread " + id + " request " + i).getBytes(StandardCharsets.UTF_8);
                        assertThat(c.send("POST", "/echo", body).body()).isEqualTo(body);
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        assertThat(failures).isEmpty();
        assertThat(s.requests.get()).isEqualTo(200);
        assertThat(s.connections.get()).isBetween(1, 4);
    }
}
