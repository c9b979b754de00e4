package dev.attend.index.lucene;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DocumentIndexTest {

    @TempDir
    Path dir;

    static float[] unit(float... v) {
        double n = 0;
        for (float x : v) {
            n += x * x;
        }
        float[] out = v.clone();
        for (int i = 0; i < out.length; i++) {
            out[i] /= (float) Math.sqrt(n);
        }
        return out;
    }

    static List<DocumentIndex.Entry> docs() {
        return List.of(
                new DocumentIndex.Entry("a", "Libraries", "Cataloguing of books in public libraries.", unit(1, 0, 0, 0)),
                new DocumentIndex.Entry("b", "Retrieval", "Information retrieval systems rank documents.", unit(0, 1, 0, 0)),
                new DocumentIndex.Entry("c", "Medicine", "Cancer treatment in children.", unit(0, 0, 1, 0.2f)));
    }

    @Test
    void filtersLetThroughOnlyDocumentsWithOneOfTheValuesOfEveryField() throws Exception {
        try (DocumentIndex index = DocumentIndex.open(dir, 4)) {
            index.add(List.of(
                    new DocumentIndex.Entry("a", "Libraries", "books in libraries", unit(1, 0, 0, 0), Map.of("lang", List.of("en"), "year", List.of("1990"))),
                    new DocumentIndex.Entry("b", "Bibliotheken", "books in libraries", unit(1, 0.1f, 0, 0), Map.of("lang", List.of("de"), "year", List.of("1990"))),
                    new DocumentIndex.Entry("c", "Libraries", "books in libraries", unit(1, 0, 0.1f, 0), Map.of("lang", List.of("en", "fr"), "year", List.of("2001")))));
            DocumentIndex.Filter english = new DocumentIndex.Filter(Map.of("lang", List.of("en")));
            assertThat(index.bm25("libraries", 10, english)).extracting(DocumentIndex.Hit::id).containsExactlyInAnyOrder("a", "c");
            assertThat(index.knn(unit(1, 0, 0, 0), 10, english)).extracting(DocumentIndex.Hit::id).containsExactlyInAnyOrder("a", "c");
            DocumentIndex.Filter frOr1990 = new DocumentIndex.Filter(Map.of("lang", List.of("fr", "de"), "year", List.of("2001")));
            assertThat(index.knn(unit(1, 0, 0, 0), 10, frOr1990)).extracting(DocumentIndex.Hit::id).containsExactly("c");
            assertThat(index.knn(unit(1, 0, 0, 0), 10, new DocumentIndex.Filter(Map.of("lang", List.of("xx"))))).isEmpty();
            assertThat(index.knn(unit(1, 0, 0, 0), 10, DocumentIndex.Filter.NONE)).hasSize(3);
            assertThat(index.get("c")).get().extracting(DocumentIndex.Stored::fields)
                    .isEqualTo(Map.of("lang", List.of("en", "fr"), "year", List.of("2001")));
            assertThatThrownBy(() -> new DocumentIndex.Filter(Map.of("bad name", List.of("x")))).hasMessageContaining("field name");
            assertThatThrownBy(() -> new DocumentIndex.Filter(Map.of("lang", List.of()))).hasMessageContaining("no value");
            assertThatThrownBy(() -> index.add(List.of(new DocumentIndex.Entry("d", "t", "w", unit(1, 0, 0, 0),
                    Map.of("lang", List.of("x".repeat(300))))))).hasMessageContaining("256");
            assertThat(index.size()).isEqualTo(3);
        }
    }

    @Test
    void findsByWordsAndByVectorsAndKeepsItAcrossARestart() throws Exception {
        try (DocumentIndex index = DocumentIndex.open(dir, 4)) {
            index.add(docs());
            assertThat(index.size()).isEqualTo(3);
            // stemming: "library" and "libraries" meet
            assertThat(index.bm25("library catalogue", 3)).extracting(DocumentIndex.Hit::id).startsWith("a");
            assertThat(index.bm25("ranking retrieval", 3)).extracting(DocumentIndex.Hit::id).containsExactly("b");
            assertThat(index.bm25("the of", 3)).isEmpty(); // stop words only
            assertThat(index.knn(unit(0.1f, 0, 1, 0), 2)).extracting(DocumentIndex.Hit::id).containsExactly("c", "a");
            assertThat(index.analyze("Libraries ranked")).containsExactly("librari", "rank");
            assertThat(index.documentFrequencies()).containsEntry("librari", 1).containsEntry("retriev", 1);
            assertThat(index.vectors(List.of("c", "a", "missing"))).containsOnlyKeys("a", "c");
            assertThat(index.vectors(List.of("c")).get("c")).containsExactly(unit(0, 0, 1, 0.2f));
            List<String> all = new ArrayList<>();
            index.forEach(d -> all.add(d.id()));
            assertThat(all).containsExactlyInAnyOrder("a", "b", "c");
            // update by id, then delete
            index.add(List.of(new DocumentIndex.Entry("a", "Archives", "Old manuscripts.", unit(1, 0, 0, 0))));
            assertThat(index.size()).isEqualTo(3);
            assertThat(index.get("a")).get().extracting(DocumentIndex.Stored::title).isEqualTo("Archives");
            assertThat(index.bm25("libraries", 3)).isEmpty();
            assertThat(index.delete("b")).isTrue();
            assertThat(index.delete("b")).isFalse();
            index.commit();
        }
        try (DocumentIndex again = DocumentIndex.open(dir, 4)) {
            assertThat(again.size()).isEqualTo(2);
            assertThat(again.get("c")).get().extracting(DocumentIndex.Stored::text).isEqualTo("Cancer treatment in children.");
            assertThat(again.bm25("manuscript", 2)).extracting(DocumentIndex.Hit::id).containsExactly("a");
        }
        assertThatThrownBy(() -> DocumentIndex.open(dir, 8)).hasMessageContaining("dimension 4");
    }

    @Test
    void refusesBadVectorsAndArgumentsWithoutWritingAnything() throws Exception {
        try (DocumentIndex index = DocumentIndex.open(dir, 4)) {
            assertThatThrownBy(() -> index.add(List.of(docs().get(0), new DocumentIndex.Entry("x", "t", "w", new float[] {1, 1, 0, 0}))))
                    .hasMessageContaining("not a unit vector");
            assertThatThrownBy(() -> index.add(List.of(new DocumentIndex.Entry("x", "t", "w", new float[] {1, 0, 0}))))
                    .hasMessageContaining("3 dimensions");
            assertThatThrownBy(() -> index.add(List.of(new DocumentIndex.Entry("x", "t", "w", new float[] {Float.NaN, 0, 0, 0}))))
                    .hasMessageContaining("NaN");
            assertThatThrownBy(() -> index.add(List.of(new DocumentIndex.Entry(" ", "t", "w", unit(1, 0, 0, 0))))).hasMessageContaining("id");
            assertThatThrownBy(() -> index.add(List.of(new DocumentIndex.Entry("y".repeat(513), "t", "w", unit(1, 0, 0, 0)))))
                    .hasMessageContaining("at most 512");
            assertThat(index.size()).isZero();
            assertThatThrownBy(() -> index.knn(unit(1, 0, 0, 0), 0)).hasMessageContaining("k must be");
        }
    }
}
