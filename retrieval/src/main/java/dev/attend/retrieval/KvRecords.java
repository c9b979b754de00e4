package dev.attend.retrieval;

import dev.attend.retrieval.internals.KvJournal;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A KV session's writes as bytes, one record each in the format of its journal (magic, lengths, CRC32C of the header
 * and of the body): for logs beside the session's own file, such as a Kafka topic, and read back into any session.
 */
public final class KvRecords {

    private KvRecords() {
    }

    /** A prefill of KV head {@code kvHead} of {@code layer} from position {@code from}; {@code queryHeads} may be null. */
    public static byte[] prefill(int layer, int kvHead, int from, float[][] keys, float[][] values, float[][] queries, int[] queryHeads) {
        return KvJournal.prefillRecord(layer, kvHead, from, keys, values, queries, queryHeads);
    }

    /** One token appended to KV head {@code kvHead} of {@code layer}. */
    public static byte[] append(int layer, int kvHead, int position, float[] key, float[] value) {
        return KvJournal.appendRecord(layer, kvHead, position, key, value);
    }

    /** One token appended to every KV head of {@code layer} ({@code keys[h]}, {@code values[h]}), as {@link KvSession#decodeLayer} appends. */
    public static byte[] appendLayer(int layer, int position, float[][] keys, float[][] values) {
        return KvJournal.appendLayerRecord(layer, position, keys, values);
    }

    /** A session's configuration as bytes (the properties text of its configuration file). */
    public static byte[] config(KvSessionConfig config) {
        return KvSessionConfigFile.text(config);
    }

    /**
     * The configuration of {@link #config} bytes read from {@code source} (a name for errors); what this build cannot
     * read is an {@link IOException}.
     */
    public static KvSessionConfig readConfig(byte[] bytes, String source) throws IOException {
        return KvSessionConfigFile.fromText(bytes, Path.of(source));
    }

    /**
     * Applies {@code record} to {@code session} as its journal's replay does (a prefill chunk keeps the session's
     * builds waiting for more). Damage is an {@link IOException} and changes nothing; a record that does not fit the
     * session (its shape, its next position) an {@link IllegalArgumentException}.
     */
    public static void apply(byte[] record, KvSession session) throws IOException {
        KvJournal.replayRecord(record, into(session));
    }

    /** Replayed records applied to {@code session}: a journal's replay ({@link KvSessionLoader}) and {@link #apply}. */
    public static KvJournal.Replay into(KvSession session) {
        return new KvJournal.Replay() {
            @Override
            public void prefill(int layer, int kvHead, int from, float[][] keys, float[][] values, float[][] queries, int[] queryHeads) {
                session.prefill(layer, kvHead, from, keys, values, queries, queryHeads, true);
            }

            @Override
            public void append(int layer, int kvHead, int position, float[] key, float[] value) {
                session.append(layer, kvHead, position, key, value);
            }
        };
    }
}
