package dev.attend.server.cli;

import dev.attend.search.DocumentSearch;
import dev.attend.search.MiniLmEmbedder;
import dev.attend.search.ModulationTrainer;
import dev.attend.search.eval.IrMetrics;
import dev.attend.search.eval.SearchEvaluation;
import dev.attend.search.eval.TestCollection;
import dev.attend.server.ConfigException;
import dev.attend.server.Json;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code attend search ...}: hybrid document search (BM25, dense, LexSemBridge and their fusions). */
@Command(name = "search", mixinStandardHelpOptions = true, versionProvider = AttendCli.Version.class,
        description = "Hybrid document search: BM25, dense (all-MiniLM-L6-v2), LexSemBridge-modulated dense, and fusions.",
        subcommands = SearchCommand.Eval.class)
public final class SearchCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return 2;
    }

    @Command(name = "eval", mixinStandardHelpOptions = true, versionProvider = AttendCli.Version.class,
            description = "Index a test collection (SMART, BEIR, TREC or Cranfield layout), train the LexSemBridge modulation on queries generated from 80%% of its passages, "
                    + "and measure every mode on the collection's queries and on keyword and part-of-passage queries of the other 20%%.")
    static final class Eval implements Callable<Integer> {

        /** Fewer leave the modulation too few generated training queries to fit on. */
        static final int MIN_DOCUMENTS = 10;

        @Option(names = "--collection", paramLabel = "DIR", required = true,
                description = "A test collection's directory, e.g. ../shared/data/ir/cisi: SMART (*.ALL, *.QRY, *.REL), BEIR (corpus.jsonl, "
                        + "queries.jsonl, qrels/SPLIT.tsv), TREC (a *topics* file, a *qrels* file, <DOC> files) or Cranfield as distributed "
                        + "(cran.all.1400, cran.qry, cranqrel); files may be gzipped. nDCG gains the judgments' grades.")
        Path collection;

        @Option(names = "--format", paramLabel = "auto|smart|beir|trec|cranfield", defaultValue = "auto",
                description = "The collection's layout (default: told by its files).")
        String format;

        @Option(names = "--split", paramLabel = "NAME", description = "BEIR: the judgments qrels/NAME.tsv (default test, or the only one).")
        String split;

        @Option(names = "--index-dir", paramLabel = "DIR",
                description = "Where the index and the modulation go (default: data/search/<collection name>; an index there is reused).")
        Path indexDir;

        @Option(names = "--epochs", paramLabel = "N", description = "Training epochs of the modulation (default: the trainer's).")
        Integer epochs;

        @Option(names = "--seed", paramLabel = "N", defaultValue = "1", description = "Split, spans and training order (default 1).")
        long seed;

        @Option(names = "--lr", paramLabel = "RATE", description = "The modulation's learning rate (default: the trainer's).")
        Float learningRate;

        @Option(names = "--temperature", paramLabel = "T", description = "InfoNCE temperature (default: the trainer's).")
        Float temperature;

        @Option(names = "--idf", description = "Token vectors weighted by IDF instead of presence (weight 1).")
        boolean idf;

        @Option(names = "--learned-weights", description = "Learn each token's weight from the query too (LexSemBridge's LLR: "
                + "log(1 + relu(e_q . U[t] + c[t])) times the presence or IDF weight).")
        boolean learnedWeights;

        @Option(names = "--tokens", paramLabel = "terms|word-pieces", defaultValue = "terms",
                description = "What token vectors are made of: the index's analysed terms (default) or the encoder's word pieces.")
        String tokens;

        @Option(names = "--json", paramLabel = "FILE", description = "Write the table as JSON rows.")
        Path json;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            TestCollection.Format layout;
            TestCollection c;
            try { // a collection that cannot be read is the user's to fix: one line, no stack trace
                layout = "auto".equalsIgnoreCase(format) ? TestCollection.Format.detect(collection) : TestCollection.Format.of(format);
                c = TestCollection.read(collection, layout, split);
            } catch (IOException | IllegalArgumentException e) {
                throw new ConfigException("search eval: " + e.getMessage(), e);
            }
            out.printf(Locale.ROOT, "%s (%s layout): %,d documents, %,d queries, %,d judged%s%n", c.name(), layout.wireName(), c.documents().size(),
                    c.queries().size(), c.judgedQueries().size(),
                    c.unknownJudgments() == 0 ? "" : String.format(Locale.ROOT, " (%,d judgments of unknown queries or documents skipped)", c.unknownJudgments()));
            out.flush();
            if (c.documents().size() < MIN_DOCUMENTS) {
                throw new ConfigException("search eval: " + c.name() + " holds " + c.documents().size() + " documents; the evaluation trains "
                        + "the modulation on queries generated from 80% of them and needs at least " + MIN_DOCUMENTS);
            }
            Path dir = indexDir != null ? indexDir : Path.of("data", "search", c.name());
            ModulationTrainer.Options d = ModulationTrainer.Options.defaults();
            ModulationTrainer.Options training = new ModulationTrainer.Options(epochs != null ? epochs : d.epochs(), d.batchSize(),
                    learningRate != null ? learningRate : d.learningRate(), temperature != null ? temperature : d.temperature(), d.seed());
            SearchEvaluation.Options options = new SearchEvaluation.Options(0.8, idf, learnedWeights, DocumentSearch.Tokens.of(tokens), seed, training);
            SearchEvaluation.Report report;
            Map<String, ProgressBar> bars = new LinkedHashMap<>();
            try {
                report = SearchEvaluation.run(c, dir, MiniLmEmbedder.shared(), options, (stage, done, total) -> {
                    ProgressBar bar = bars.computeIfAbsent(stage, s -> {
                        bars.values().forEach(ProgressBar::close);
                        return CliProgress.start(s, total, null, false);
                    });
                    bar.stepTo(done);
                });
            } finally {
                bars.values().forEach(ProgressBar::close);
            }
            out.printf(Locale.ROOT, "%s: %,d documents; modulation started from token statistics at scale %s, trained on %,d generated pairs"
                    + " (loss by epoch %s)%n", c.name(), report.documents(), report.startScale(), report.trainingPairs(), losses(report.epochLosses()));
            out.printf(Locale.ROOT, "%-16s %-14s %8s %8s %8s %8s %8s%n", "task", "mode", "queries", "nDCG@10", "MRR@10", "R@10", "R@100");
            List<Map<String, Object>> rows = new ArrayList<>();
            for (SearchEvaluation.Row r : report.rows()) {
                IrMetrics.Summary s = r.summary();
                out.printf(Locale.ROOT, "%-16s %-14s %8d %8.4f %8.4f %8.4f %8.4f%n", r.task(), r.mode().wireName(), s.queries(), s.ndcg10(),
                        s.mrr10(), s.recall10(), s.recall100());
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("name", c.name() + "/" + r.task() + "/" + r.mode().wireName());
                row.put("collection", c.name());
                row.put("task", r.task());
                row.put("mode", r.mode().wireName());
                row.put("queries", s.queries());
                row.put("ndcg_at_10", s.ndcg10());
                row.put("mrr_at_10", s.mrr10());
                row.put("recall_at_10", s.recall10());
                row.put("recall_at_100", s.recall100());
                rows.add(row);
            }
            out.flush();
            if (json != null) {
                Files.writeString(json, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(rows));
            }
            return 0;
        }

        private static String losses(double[] l) {
            StringBuilder sb = new StringBuilder();
            for (double x : l) {
                sb.append(sb.isEmpty() ? "" : " -> ").append(String.format(Locale.ROOT, "%.3f", x));
            }
            return sb.toString();
        }
    }
}
