package dev.attend.search;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every search mode on a tiny corpus with known answers, with the real encoder and a real Lucene index. */
class DocumentSearchTest {

    @TempDir
    Path dir;

    static final List<Document> CORPUS = List.of(
            new Document("cat", "Cataloguing", "Rules for cataloguing books and serials in public libraries."),
            new Document("ir", "Retrieval", "Ranking documents by their relevance to a user's information need."),
            new Document("med", "Leukaemia", "Chemotherapy outcomes in children treated for acute leukaemia."),
            new Document("heart", "Cardiology", "Blood pressure and the risk of heart attack in older adults."),
            new Document("xq7", "Codes", "The procedure identifier XQ7 appears only in this record about classification codes."));

    @Test
    void everyModeFindsItsKnownAnswer() throws Exception {
        try (DocumentSearch search = DocumentSearch.open(dir, MiniLmEmbedder.shared())) {
            search.add(CORPUS, (done, total) -> { });
            assertThat(search.index().size()).isEqualTo(5);
            // a rare exact word: BM25's answer
            assertThat(search.search("xq7", DocumentSearch.Mode.BM25, 3).getFirst().id()).isEqualTo("xq7");
            // a paraphrase with no shared word: the encoder's answer
            assertThat(search.search("cancer in kids", DocumentSearch.Mode.DENSE, 3).getFirst().id()).isEqualTo("med");
            assertThat(search.search("cancer in kids", DocumentSearch.Mode.BM25, 3)).isEmpty();
            // fusion keeps both kinds of answer on top
            for (DocumentSearch.Mode m : List.of(DocumentSearch.Mode.RRF, DocumentSearch.Mode.LINEAR)) {
                assertThat(search.search("xq7", m, 3).getFirst().id()).as(m.wireName()).isEqualTo("xq7");
                DocumentSearch.Hit top = search.search("cancer in kids", m, 3).getFirst();
                assertThat(top.id()).as(m.wireName()).isEqualTo("med");
                assertThat(top.bm25Rank()).isZero();
                assertThat(top.denseRank()).isEqualTo(1);
            }
            // modulated modes need a modulation; an untrained one is exactly plain dense
            assertThatThrownBy(() -> search.search("books", DocumentSearch.Mode.LEXSEM, 3)).hasMessageContaining("modulation");
            Vocabulary v = search.currentVocabulary(DocumentSearch.Tokens.WORD_PIECES);
            assertThat(v.id("books")).isNotNegative(); // word pieces, not stemmed terms
            assertThat(v.id("book")).isNegative();
            search.setModulation(v, new LexSemModulation(v.size(), MiniLmEmbedder.DIM), true, DocumentSearch.Tokens.WORD_PIECES);
            for (String q : List.of("library cataloguing rules", "heart attack risk", "cancer in kids")) {
                assertThat(search.search(q, DocumentSearch.Mode.LEXSEM, 5)).extracting(DocumentSearch.Hit::id)
                        .containsExactlyElementsOf(search.search(q, DocumentSearch.Mode.DENSE, 5).stream().map(DocumentSearch.Hit::id).toList());
                assertThat(search.search(q, DocumentSearch.Mode.RRF_LEXSEM, 5)).extracting(DocumentSearch.Hit::id)
                        .containsExactlyElementsOf(search.search(q, DocumentSearch.Mode.RRF, 5).stream().map(DocumentSearch.Hit::id).toList());
            }
        }
        // the modulation and its vocabulary are kept beside the index
        try (DocumentSearch again = DocumentSearch.open(dir, MiniLmEmbedder.shared())) {
            assertThat(again.modulation()).isNotNull();
            assertThat(again.search("heart attack risk", DocumentSearch.Mode.LINEAR_LEXSEM, 2).getFirst().id()).isEqualTo("heart");
        }
    }

    @Test
    void badRequestsGetClearErrors() throws Exception {
        try (DocumentSearch search = DocumentSearch.open(dir, MiniLmEmbedder.shared())) {
            assertThatThrownBy(() -> search.search(" ", DocumentSearch.Mode.BM25, 3)).hasMessageContaining("empty");
            assertThatThrownBy(() -> search.search("x", DocumentSearch.Mode.DENSE, 0)).hasMessageContaining("k must be");
            assertThatThrownBy(() -> DocumentSearch.Mode.of("fuzzy")).hasMessageContaining("unknown search mode 'fuzzy'");
            assertThat(DocumentSearch.Mode.of("rrf-lexsem")).isEqualTo(DocumentSearch.Mode.RRF_LEXSEM);
        }
    }
}
