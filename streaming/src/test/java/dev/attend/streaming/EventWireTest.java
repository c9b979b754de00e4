package dev.attend.streaming;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.serving.BoundedSequence;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EventWireTest {

    @Test
    void anEventSurvivesTheWire() throws Exception {
        StreamEvent e = new StreamEvent(new BehaviorEvent(42, 1001, 7, "pv", 1511544070L), Map.of("page", "home"));
        assertThat(EventWire.read(EventWire.key(42), EventWire.value(e))).isEqualTo(e);
        StreamEvent bare = new StreamEvent(new BehaviorEvent(-3, 0, 0, "buy", 0));
        assertThat(EventWire.read(EventWire.key(-3), EventWire.value(bare))).isEqualTo(bare);
    }

    @Test
    void stringsWithEscapesAndAnyWhiteSpaceRoundTrip() throws Exception {
        StreamEvent e = new StreamEvent(new BehaviorEvent(7, 1, 2, "a\"b\\c\n\u00e9\u4e2d\ud83d\ude00", 3),
                Map.of("q\"", "tab\there", "ctl", "\u0001"));
        assertThat(EventWire.read(EventWire.key(7), EventWire.value(e))).isEqualTo(e);
        String spaced = " {\n \"v\" : 1 ,\"user\":7,\t\"item\":1,\"category\":2,\"behavior\":\"p\\u0076\\/x\",\"time\":3,"
                + "\"context\":null } \r\n";
        StreamEvent read = EventWire.read(EventWire.key(7), spaced.getBytes(StandardCharsets.UTF_8));
        assertThat(read.behavior().action()).isEqualTo("pv/x");
        assertThat(read.context()).isEmpty();
        assertThat(EventWire.read(EventWire.key(7), ("{\"v\":1,\"user\":7,\"item\":-9223372036854775808,\"category\":0,\"behavior\":\"pv\","
                + "\"time\":0,\"context\":{}}").getBytes(StandardCharsets.UTF_8)).behavior().item()).isEqualTo(Long.MIN_VALUE);
    }

    @Test
    void theActionIsWrittenAsActionAndReadUnderEitherName() throws Exception {
        StreamEvent e = new StreamEvent(new BehaviorEvent(5, 6, 7, "pv", 8));
        assertThat(new String(EventWire.value(e), StandardCharsets.UTF_8)).contains("\"action\":\"pv\"").doesNotContain("behavior");
        for (String name : new String[] {"action", "behavior"}) {
            String value = "{\"v\":1,\"user\":5,\"item\":6,\"category\":7,\"" + name + "\":\"pv\",\"time\":8}";
            assertThat(EventWire.read(EventWire.key(5), value.getBytes(StandardCharsets.UTF_8))).isEqualTo(e);
        }
        // The last second that is not taken for milliseconds reads.
        long last = BoundedSequence.MILLISECONDS_FROM - 1;
        StreamEvent late = new StreamEvent(new BehaviorEvent(5, 6, 7, "pv", last));
        assertThat(EventWire.read(EventWire.key(5), EventWire.value(late))).isEqualTo(late);
    }

    @Test
    void everyMalformedRecordSaysWhy() {
        String ok = "\"v\":1,\"user\":5,\"item\":6,\"category\":7,\"behavior\":\"pv\",\"time\":8";
        assertMalformed("5", "{" + ok + ",\"x\":1}", "unknown field 'x'");
        assertMalformed("5", "{" + ok.replace("\"v\":1", "\"v\":2") + "}", "wire format version 2");
        assertMalformed("5", "{" + ok.replace("\"item\":6,", "") + "}", "'item' missing");
        assertMalformed("5", "{" + ok.replace("\"item\":6", "\"item\":\"6\"") + "}", "'item' is not an integer");
        assertMalformed("5", "{" + ok.replace("\"item\":6", "\"item\":6.5") + "}", "'item' is not an integer");
        assertMalformed("6", "{" + ok + "}", "key '6' is not the event's user 5");
        assertMalformed(null, "{" + ok + "}", "key 'null' is not the event's user 5");
        assertMalformed("5", "{" + ok.replace("\"time\":8", "\"time\":-1") + "}", "time must be >= 0");
        // 2017-11-23 in milliseconds where seconds are meant: refused with the reason, not kept as the year 49,000.
        assertMalformed("5", "{" + ok.replace("\"time\":8", "\"time\":1511544070000") + "}", "looks like milliseconds since the epoch");
        assertMalformed("5", "{" + ok.replace("\"pv\"", "\"pv\",\"action\":\"buy\"") + "}", "'action' given twice");
        assertMalformed("5", "{" + ok.replace("\"behavior\":\"pv\",", "") + "}", "'action' missing");
        assertMalformed("5", "{" + ok.replace("\"pv\"", "\" \"") + "}", "action must not be blank");
        assertMalformed("5", "{" + ok.replace("\"pv\"", "\"" + "x".repeat(65) + "\"") + "}", "longer than 64 bytes");
        assertMalformed("5", "{" + ok + ",\"context\":{\"a\":1}}", "context 'a' is not a string");
        assertMalformed("5", "{" + ok + ",\"context\":[1]}", "'context' is not an object");
        assertMalformed("5", "[1,2]", "not a JSON object");
        assertMalformed("5", "{\"v\":1,", "not JSON");
        assertMalformed("5", "{" + ok + "} x", "not JSON: trailing content");
        assertMalformed("5", "{" + ok.replace("\"item\":6", "\"item\":9223372036854775808") + "}", "out of range");
        assertMalformed("5", "{" + ok.replace("\"item\":6", "\"item\":06") + "}", "not JSON");
        assertMalformed("5", "{" + ok.replace("\"item\":6", "\"item\":true") + "}", "'item' is not an integer: true");
        assertMalformed("5", "{" + ok.replace("\"pv\"", "\"p\\qv\"") + "}", "not JSON: expected a valid escape");
        assertMalformed("5", "{" + ok.replace("\"pv\"", "\"p\u0001v\"") + "}", "not JSON: expected no control character");
        assertMalformed("5", "", "not JSON");
        assertMalformed("5", "{" + ok + ",\"context\":{\"a\":\"" + "y".repeat(EventWire.MAX_VALUE_BYTES) + "\"}}", "over the limit");
        assertThatThrownBy(() -> EventWire.read(EventWire.key(5), null)).isInstanceOf(MalformedEventException.class).hasMessage("no value");
    }

    private static void assertMalformed(String key, String value, String reason) {
        assertThatThrownBy(() -> EventWire.read(key == null ? null : key.getBytes(StandardCharsets.UTF_8), value.getBytes(StandardCharsets.UTF_8)))
                .as(value.length() > 200 ? value.substring(0, 200) : value)
                .isInstanceOf(MalformedEventException.class).hasMessageContaining(reason);
    }
}
