package dev.attend.server.search;

import dev.attend.index.lucene.DocumentIndex;
import dev.attend.index.store.ResourceId;
import dev.attend.search.Document;
import dev.attend.search.DocumentSearch;
import dev.attend.search.ModulationFit;
import dev.attend.search.ModulationTrainer;
import dev.attend.search.TextEmbedder;
import dev.attend.server.ApiException;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * HTTP API of hybrid document search, over one {@link DocumentSearch} under the data directory:
 *
 * <pre>
 *   POST   /v1/search                      {query, mode?, k?}  -> hits with each component's score and rank
 *   POST   /v1/search/documents            {documents: [{id, title?, text?}]} -> indexed (embedded, committed)
 *   GET    /v1/search/documents/{id}       -> the stored document
 *   DELETE /v1/search/documents/{id}       -> 204, or 404
 *   GET    /v1/search/index                -> documents, modulation (terms, idf weights)
 *   POST   /v1/search/modulation           {epochs?, seed?, learnedWeights?} -> 202: fits the LexSemBridge modulation to every document
 *                                                  in the background; GET /v1/search/index follows it
 * </pre>
 */
public final class SearchRoutes implements Consumer<RoutesConfig>, Closeable {

    static final int MAX_DOCUMENTS = 1_000;
    static final int MAX_K = 1_000;
    static final int MAX_QUERY_CHARS = 10_000;

    private final DocumentSearch search;
    /** Fits run one at a time, off the request threads (a corpus of thousands of passages takes minutes). */
    private final ExecutorService fitter = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "attend-search-fit");
        t.setDaemon(true);
        return t;
    });
    /** What the last fit did: "fitting", "ready" (with pairs and losses) or "failed: ..."; null before any. */
    private volatile Map<String, Object> fitState;

    public SearchRoutes(Path dir, TextEmbedder embedder) throws IOException {
        this.search = DocumentSearch.open(dir, embedder);
    }

    record SearchRequest(String query, String mode, Integer k, Map<String, List<String>> filter) {
    }

    record DocumentBody(String id, String title, String text, Map<String, List<String>> fields) {
    }

    record DocumentsRequest(List<DocumentBody> documents) {
    }

    record FitRequest(Integer epochs, Long seed, Boolean learnedWeights) {
    }

    @Override
    public void accept(RoutesConfig routes) {
        routes.post("/v1/search", this::search);
        routes.post("/v1/search/documents", this::add);
        routes.get("/v1/search/documents/{id}", this::get);
        routes.delete("/v1/search/documents/{id}", this::delete);
        routes.get("/v1/search/index", this::index);
        routes.post("/v1/search/modulation", this::fit);
    }

    private void search(Context ctx) throws IOException {
        SearchRequest r = ctx.bodyAsClass(SearchRequest.class);
        if (r.query() == null || r.query().isBlank()) {
            throw ApiException.badRequest("'query' is required and must not be blank", Map.of("field", "query"));
        }
        if (r.query().length() > MAX_QUERY_CHARS) {
            throw ApiException.badRequest("the query is longer than " + MAX_QUERY_CHARS + " characters", Map.of("field", "query"));
        }
        int k = r.k() == null ? 10 : r.k();
        if (k < 1 || k > MAX_K) {
            throw ApiException.badRequest("'k' must be between 1 and " + MAX_K + ", got " + k, Map.of("field", "k"));
        }
        DocumentSearch.Mode mode;
        try {
            mode = DocumentSearch.Mode.of(r.mode() == null ? "rrf" : r.mode());
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage(), Map.of("field", "mode"));
        }
        DocumentIndex.Filter filter;
        try {
            filter = new DocumentIndex.Filter(r.filter());
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage(), Map.of("field", "filter"));
        }
        List<DocumentSearch.Hit> hits;
        try {
            hits = search.search(r.query(), mode == DocumentSearch.Mode.BM25 ? null : search.embedder().embed(r.query()), mode, k, filter);
        } catch (IllegalStateException e) {
            throw new ApiException(409, "no_modulation", e.getMessage() + ": POST /v1/search/modulation", Map.of("mode", mode.wireName()));
        }
        List<Map<String, Object>> out = new ArrayList<>(hits.size());
        for (DocumentSearch.Hit h : hits) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", h.id());
            m.put("title", search.index().get(h.id()).map(d -> d.title()).orElse(""));
            m.put("score", h.score());
            m.put("bm25", component(h.bm25Score(), h.bm25Rank()));
            m.put("dense", component(h.denseScore(), h.denseRank()));
            out.add(m);
        }
        ctx.json(Map.of("mode", mode.wireName(), "hits", out));
    }

    private static Map<String, Object> component(float score, int rank) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("score", rank == 0 ? null : score);
        m.put("rank", rank == 0 ? null : rank);
        return m;
    }

    private void add(Context ctx) throws IOException {
        DocumentsRequest r = ctx.bodyAsClass(DocumentsRequest.class);
        if (r.documents() == null || r.documents().isEmpty()) {
            throw ApiException.badRequest("'documents' is required and must not be empty", Map.of("field", "documents"));
        }
        if (r.documents().size() > MAX_DOCUMENTS) {
            throw ApiException.badRequest("at most " + MAX_DOCUMENTS + " documents per request, got " + r.documents().size(),
                    Map.of("field", "documents"));
        }
        List<Document> docs = new ArrayList<>(r.documents().size());
        for (int i = 0; i < r.documents().size(); i++) {
            DocumentBody d = r.documents().get(i);
            if (d == null || d.id() == null || d.id().isBlank()) {
                throw ApiException.badRequest("documents[" + i + "].id is required", Map.of("field", "documents[" + i + "].id"));
            }
            try {
                DocumentIndex.checkId(d.id());
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest("documents[" + i + "]: " + e.getMessage(), Map.of("field", "documents[" + i + "].id"));
            }
            docs.add(new Document(d.id(), d.title() == null ? "" : d.title(), d.text() == null ? "" : d.text(), d.fields()));
        }
        try {
            search.add(docs, (done, total) -> { });
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage(), Map.of("field", "documents"));
        }
        ctx.json(Map.of("indexed", docs.size(), "documents", search.index().size()));
    }

    /** A document id from the path: looked up as a term (documents indexed before ids were checked may hold any), bounded. */
    private static String documentId(Context ctx) {
        String id = ctx.pathParam("id");
        if (id.length() > DocumentIndex.MAX_ID_CHARS) {
            throw ApiException.badRequest("a document id is at most " + DocumentIndex.MAX_ID_CHARS + " characters, got "
                    + ResourceId.shown(id), Map.of("field", "id"));
        }
        return id;
    }

    private void get(Context ctx) throws IOException {
        String id = documentId(ctx);
        var d = search.index().get(id).orElseThrow(() -> ApiException.notFound("no document " + ResourceId.shown(id)));
        ctx.json(Map.of("id", d.id(), "title", d.title(), "text", d.text(), "fields", d.fields()));
    }

    private void delete(Context ctx) throws IOException {
        String id = documentId(ctx);
        if (!search.delete(id)) {
            throw ApiException.notFound("no document " + ResourceId.shown(id));
        }
        ctx.status(204);
    }

    private void index(Context ctx) throws IOException {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("documents", search.index().size());
        out.put("dim", search.index().dim());
        Map<String, Object> modulation = new LinkedHashMap<>();
        Map<String, Object> fit = fitState;
        boolean damaged = search.modulation() == null && search.modulationDamage() != null;
        modulation.put("state", fit != null ? fit.get("state") : search.modulation() != null ? "ready" : damaged ? "damaged" : "none");
        if (damaged && fit == null) {
            modulation.put("reason", "the saved modulation was damaged and moved aside (see /health); fit it again");
        }
        if (search.vocabulary() != null) {
            modulation.put("terms", search.vocabulary().size());
        }
        if (search.modulation() != null) {
            modulation.put("learnedWeights", search.modulation().learnsWeights());
        }
        if (fit != null) {
            fit.forEach((k, v) -> modulation.putIfAbsent(k, v));
        }
        out.put("modulation", modulation);
        ctx.json(out);
    }

    private void fit(Context ctx) {
        FitRequest r = ctx.body().isBlank() ? new FitRequest(null, null, null) : ctx.bodyAsClass(FitRequest.class);
        ModulationTrainer.Options defaults = ModulationTrainer.Options.defaults();
        if (r.epochs() != null && (r.epochs() < 1 || r.epochs() > 100)) {
            throw ApiException.badRequest("'epochs' must be between 1 and 100, got " + r.epochs(), Map.of("field", "epochs"));
        }
        ModulationTrainer.Options o = new ModulationTrainer.Options(r.epochs() != null ? r.epochs() : defaults.epochs(), defaults.batchSize(),
                defaults.learningRate(), defaults.temperature(), defaults.seed());
        long seed = r.seed() == null ? 1 : r.seed();
        synchronized (this) {
            if (fitState != null && "fitting".equals(fitState.get("state"))) {
                throw new ApiException(409, "fit_running", "a fit is running: GET /v1/search/index follows it");
            }
            fitState = Map.of("state", "fitting");
        }
        fitter.execute(() -> {
            try {
                List<Document> all = new ArrayList<>();
                search.index().forEach(d -> all.add(new Document(d.id(), d.title(), d.text())));
                ModulationFit.Result fit = ModulationFit.fit(search, all, false, Boolean.TRUE.equals(r.learnedWeights()),
                        DocumentSearch.Tokens.TERMS, o, seed, (what, done, total) -> { });
                fitState = Map.of("state", "ready", "pairs", fit.pairs(), "startScale", fit.startScale(), "epochLosses", fit.epochLosses());
            } catch (IOException | RuntimeException e) {
                fitState = Map.of("state", "failed: " + e.getMessage());
            }
        });
        ctx.status(202).json(Map.of("state", "fitting"));
    }

    @Override
    public void close() throws IOException {
        fitter.shutdownNow();
        try {
            fitter.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        search.close();
    }
}
