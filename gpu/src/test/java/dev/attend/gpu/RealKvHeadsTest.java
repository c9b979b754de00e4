package dev.attend.gpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every backend against the reference on the shared real attention heads (skipped without them). */
class RealKvHeadsTest {

    static Stream<Arguments> heads() throws IOException {
        List<Arguments> out = new ArrayList<>();
        for (String set : new String[] {"kv/minilm-shakespeare", "kv/bytelm-pysrc"}) {
            Optional<Path> dir = SharedData.resolve(set);
            if (dir.isEmpty()) {
                System.out.println("SKIP real-head conformance for " + set + ": ../shared/data not found");
                continue;
            }
            for (String head : KvHead.heads(dir.get())) {
                out.add(Arguments.of(dir.get(), head));
            }
        }
        if (out.isEmpty()) {
            out.add(Arguments.of(null, "no shared heads"));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("heads")
    void decodeQueriesAgreeWithReference(Path dir, String head) throws IOException {
        Assumptions.assumeTrue(dir != null, "../shared/data not found: real-head conformance skipped");
        KvHead kv = KvHead.load(dir, head, Precision.FLOAT16);
        int decode = 1024;
        int prefill = kv.tokens() - decode;
        VectorStore keys = new VectorStore(kv.keys().dim(), Precision.FLOAT16);
        float[] row = new float[keys.dim()];
        for (int i = 0; i < prefill; i++) {
            kv.keys().readRow(i, row);
            keys.append(row);
        }
        float[][] queries = new float[16][];
        for (int j = 0; j < queries.length; j++) {
            queries[j] = kv.queries().row(prefill + j * (decode / queries.length));
        }
        for (int k : new int[] {20, 100}) {
            compareBackends(head, queries, keys, k);
        }
    }

    private static void compareBackends(String head, float[][] queries, VectorStore keys, int k) {
        TopKResult want = new ScalarScorer().topK(queries, keys, k);
        List<Scorer> backends = new ArrayList<>(List.of(new SimdScorer(1), new SimdScorer()));
        if (OpenClScorer.available()) {
            backends.add(new OpenClScorer(OpenClScorer.Target.GPU_THEN_CPU));
        }
        for (Scorer scorer : backends) {
            try (scorer) {
                TopKResult got = scorer.topK(queries, keys, k);
                assertThat(got.device()).isEqualTo(scorer.device());
                if (scorer instanceof OpenClScorer) {
                    assertThat(got.device().backend()).as("no fallback").isEqualTo("opencl");
                }
                for (int j = 0; j < queries.length; j++) {
                    ScorerAssertions.assertSameTopK(head + " k=" + k + " " + got.device() + " q" + j, got.get(j), want.get(j), queries[j], keys);
                }
            }
        }
    }
}
