package dev.attend.server.cli;

import dev.attend.gpu.SharedData;
import dev.attend.search.Document;
import dev.attend.search.DocumentSearch;
import dev.attend.search.FineGrainedQueries;
import dev.attend.search.MiniLmEmbedder;
import dev.attend.search.ModulationFit;
import dev.attend.search.ModulationTrainer;
import dev.attend.search.eval.TestCollection;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The demo's search step: documents of CISI (or, without the shared data, a few built-in ones) indexed in Lucene with
 * their all-MiniLM-L6-v2 vectors, the LexSemBridge modulation fitted to them, then a collection query and a keyword
 * query answered by every mode, each hit with its BM25 and dense components.
 */
final class SearchDemo {

    /** Documents of CISI indexed by the demo (all 1,460 take a minute to embed on two cores). */
    static final int CISI_DOCUMENTS = 300;

    private SearchDemo() {
    }

    static Corpus run(PrintStream out) throws Exception {
        return run(out, SharedData.resolve("ir/cisi"));
    }

    /** The step on CISI at {@code cisi}, or on the built-in documents when it is empty. */
    static Corpus run(PrintStream out, Optional<Path> cisi) throws Exception {
        List<Document> documents;
        List<String> queries = new ArrayList<>();
        if (cisi.isPresent()) {
            TestCollection c = TestCollection.read(cisi.get());
            documents = c.documents().subList(0, Math.min(CISI_DOCUMENTS, c.documents().size()));
            out.printf(Locale.ROOT, "== Hybrid search on CISI %s: the first %d of %,d documents%n", cisi.get(), documents.size(),
                    c.documents().size());
            queries.add(c.queries().getFirst().text().replaceAll("\\s+", " ").strip());
        } else {
            documents = BUILT_IN;
            out.println("== Hybrid search on " + documents.size() + " built-in documents (no ../shared/data here)");
            queries.add("How should a library catalogue its books?");
        }
        Path dir = Files.createTempDirectory("attend-demo-search");
        try (DocumentSearch search = DocumentSearch.open(dir, MiniLmEmbedder.shared())) {
            long t0 = System.nanoTime();
            search.add(documents, (done, total) -> { });
            out.printf(Locale.ROOT, "  indexed in %.1f s (BM25 over title and text; 384-d sentence vectors in Lucene's HNSW)%n",
                    (System.nanoTime() - t0) / 1e9);
            t0 = System.nanoTime();
            ModulationFit.Result fit = ModulationFit.fit(search, documents, false, false, DocumentSearch.Tokens.TERMS, ModulationTrainer.Options.defaults(), 1,
                    (what, done, total) -> { });
            out.printf(Locale.ROOT, "  LexSemBridge modulation fitted in %.1f s on %,d keyword and part-of-passage queries generated "
                    + "from the documents (no labels)%n", (System.nanoTime() - t0) / 1e9, fit.pairs());
            Document sample = documents.get(documents.size() / 2);
            FineGrainedQueries.Generated keyword = FineGrainedQueries.keyword(sample, ModulationFit.analyzer(search), search.vocabulary());
            if (keyword != null) {
                queries.add(keyword.text());
            }
            for (String q : queries) {
                out.printf(Locale.ROOT, "  query: \"%s\"%n", q.length() > 100 ? q.substring(0, 97) + "..." : q);
                for (DocumentSearch.Mode mode : DocumentSearch.Mode.values()) {
                    List<DocumentSearch.Hit> hits = search.search(q, mode, 3);
                    StringBuilder sb = new StringBuilder();
                    for (DocumentSearch.Hit h : hits) {
                        String title = search.index().get(h.id()).map(d -> d.title()).orElse("");
                        sb.append(String.format(Locale.ROOT, "%n      %-5s %-48s bm25 %s  dense %s", h.id(), clip(title, 48),
                                h.bm25Rank() == 0 ? "  -  " : String.format(Locale.ROOT, "#%-3d", h.bm25Rank()),
                                h.denseRank() == 0 ? "  -" : String.format(Locale.ROOT, "#%d", h.denseRank())));
                    }
                    out.printf(Locale.ROOT, "    %-13s%s%n", mode.wireName(), sb);
                }
                if (keyword != null && q.equals(keyword.text())) {
                    out.printf(Locale.ROOT, "    (generated from document %s: \"%s\")%n", sample.id(), clip(sample.title(), 60));
                }
            }
            out.println("  Every mode on CISI, MED and ADI with nDCG, MRR and recall: `./attend search eval --collection DIR`, bench/RESULTS.md");
            out.println();
            return new Corpus(documents, queries.getFirst());
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** The documents the demo indexed and its first query, for the walkthrough over HTTP. */
    record Corpus(List<Document> documents, String query) {
    }

    static String clip(String s, int width) {
        String t = s == null ? "" : s.replaceAll("\\s+", " ").strip();
        return t.length() > width ? t.substring(0, width - 3) + "..." : t;
    }

    /** A small corpus written for the demo (no licence attached to anything here). */
    static final List<Document> BUILT_IN = List.of(
            new Document("1", "Cataloguing rules", "Libraries describe each book with its author, title, subject headings and a class "
                    + "number, so that readers find it on the shelves and in the catalogue."),
            new Document("2", "Ranking by relevance", "A search engine scores documents against a query and returns the best first; "
                    + "term weights such as inverse document frequency favour rare words."),
            new Document("3", "Sentence vectors", "Neural encoders map a sentence to a vector so that paraphrases land close together "
                    + "even when they share no words."),
            new Document("4", "Children's leukaemia", "Chemotherapy outcomes in children treated for acute leukaemia improved over "
                    + "three decades of clinical trials in many hospitals."),
            new Document("5", "Heart disease", "Blood pressure, cholesterol and smoking raise the risk of heart attack in older adults, "
                    + "a long cohort study found."),
            new Document("6", "Interlibrary loans", "When a library does not hold a book, it can borrow a copy from another library "
                    + "for a reader, usually within two weeks."),
            new Document("7", "Indexing periodicals", "Journal articles are indexed by subject so that researchers can search decades "
                    + "of periodicals without reading every issue."),
            new Document("8", "Reading habits", "Surveys of public library users show how reading habits change with age, income "
                    + "and the distance to the nearest branch."));
}
