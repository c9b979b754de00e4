package dev.attend.bench;

import dev.attend.recsys.data.Imported;
import dev.attend.recsys.data.MovieLensImporter;
import dev.attend.recsys.data.PlantedBehaviors;
import dev.attend.recsys.data.Sample;
import dev.attend.recsys.data.SampleProtocol;
import dev.attend.recsys.data.Samples;
import dev.attend.recsys.data.TaobaoImporter;
import dev.attend.recsys.data.UserSequences;
import dev.attend.recsys.eval.Evaluation;
import dev.attend.recsys.eval.Popularity;
import dev.attend.recsys.model.ModelConfig;
import dev.attend.recsys.model.SequenceModel;
import dev.attend.recsys.model.Trainer;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import java.util.stream.IntStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The recommendation models compared: {@code bench recsys}. On one data set (Taobao UserBehavior CSV, a
 * MovieLens directory, or the planted synthetic set), DARE, TWIN-like, DIN-like and popularity are trained on
 * the training split and measured on the test split (AUC, GAUC by user and by category, logloss), over several
 * seeds (mean and standard deviation); training samples per second; on the planted set also the search recall
 * (the share of the planted relevant behaviours among a model's top-K). With {@code --serving}, the serving latency
 * instead ({@link RecsysServing}).
 */
@Command(name = "recsys", sortOptions = false,
        description = "DARE vs TWIN-like vs DIN-like vs popularity on a behaviour data set: AUC, GAUC, logloss.",
        customSynopsis = {
            "bench recsys --data PATH --format taobao|movielens | --planted USERS | --serving [--scorer simd]",
            "             [--seeds 3] [--epochs 2] [--train-targets 20] [--attention-dim 16] [--dim 64] [--top-k 20]",
            "             [--position-buckets B] [--lr 0.001] [--models DARE,TWIN,DIN] [--threads N] [--json FILE]",
            "             planted only: [--items 5000] [--categories 100] [--events 1000-2000] [--category-share 0.3]",
            "             serving only: [--histories 1000,10000,100000] [--attention-dims 16,64]"})
public final class RecsysBench extends BenchCommand {

    @Option(names = "--data", paramLabel = "PATH",
            description = "A Taobao UserBehavior CSV, or a MovieLens directory (u.data + u.item, or ratings.csv + movies.csv).")
    Path data;

    @Option(names = "--format", paramLabel = "taobao|movielens", description = "The format of --data.")
    String format;

    @Option(names = "--planted", paramLabel = "USERS", description = "The planted synthetic set (PlantedBehaviors defaults; the "
            + "models read the last 200 behaviours); also prints the AUC of searches that know the planted factors (oracle: planted S, "
            + "top-K by the planted relevance, K random behaviours, the whole window).")
    int planted;

    @Option(names = "--serving", description = "Latency of scoring 1,000 candidates against histories of 10^3, 10^4 and 10^5 "
            + "behaviours (--histories), DARE with attention dimensions 16 and 64 (--attention-dims); the search on --scorer simd "
            + "(--threads), opencl or auto; then the host's baseline: fixed SIMD work as long as the 10^4 request (else 12 ms) on as "
            + "many threads, timed the same way (its p99 - p50 is the machine's own tail).")
    boolean serving;

    @Option(names = "--scorer", paramLabel = "simd|opencl|auto", description = "The search's backend with --serving (default simd).")
    String scorerName = "simd";

    @Option(names = "--seeds", paramLabel = "N", description = "Seeds each model is trained with (default 3).")
    int seeds = 3;

    @Option(names = "--epochs", paramLabel = "N", description = "Training epochs (default 2).")
    int epochs = 2;

    @Option(names = "--train-targets", paramLabel = "N", description = "Training targets per user (default 20).")
    int trainTargets = 20;

    @Option(names = "--attention-dim", paramLabel = "D", description = "DARE's attention dimension (default 16).")
    int attentionDim = 16;

    @Option(names = "--dim", paramLabel = "D", description = "The representation dimension (and TWIN's and DIN's one table; "
            + "default 64); DARE's attention dimension is --attention-dim.")
    int dim = 64;

    @Option(names = "--top-k", paramLabel = "K", description = "Behaviours the search keeps (default 20).")
    int topK = 20;

    @Option(names = "--position-buckets", paramLabel = "B", description = "Position-gap embeddings with B log2 buckets (0: none; "
            + "default: enough for the training histories, 9 for 200).")
    int positionBuckets = -1; // auto: enough for the training histories

    @Option(names = "--lr", paramLabel = "R", description = "Adam's learning rate (default 0.001).")
    float learningRate = Trainer.Options.defaults().learningRate();

    @Option(names = "--models", paramLabel = "LIST",
            description = "The models trained (default DARE,TWIN,DIN; popularity is always measured).")
    String models;

    @Option(names = "--threads", paramLabel = "N", description = "Training threads, and the search's with --serving (default: all cores).")
    int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--json", paramLabel = "FILE", description = "Write the report as JSON.")
    Path json;

    @Option(names = "--items", paramLabel = "N", description = "Planted only: items (default 5000).")
    Integer items;

    @Option(names = "--categories", paramLabel = "N", description = "Planted only: categories (default 100).")
    Integer categories;

    @Option(names = "--events", paramLabel = "MIN-MAX", description = "Planted only: behaviours per user (default 1000-2000).")
    String events;

    @Option(names = "--category-share", paramLabel = "F",
            description = "Planted only: the share of category-driven behaviours (default 0.3).")
    Double categoryShare;

    @Option(names = "--histories", paramLabel = "N,...", description = "Serving only: history lengths (default 1000,10000,100000).")
    String historyLengths;

    @Option(names = "--attention-dims", paramLabel = "D,...", description = "Serving only: DARE's attention dimensions (default 16,64).")
    String attentionDimList;

    /** What {@link #read} makes of the options: the models, the planted set, the serving rows. */
    private List<ModelConfig.Kind> kinds = List.of(ModelConfig.Kind.values());
    private PlantedBehaviors.Config plantedConfig = PlantedBehaviors.Config.defaults();
    private int[] histories = {1_000, 10_000, 100_000};
    private int[] attentionDims = {16, 64};

    RecsysBench(PrintStream out, PrintStream err) {
        super(out, err);
    }

    record Run(String model, int seed, Evaluation test, double samplesPerSecond, double searchRecall) {
    }

    /** Runs the harness; returns the exit status (0 ok, 2 bad arguments, 1 failure). */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return new RecsysBench(out, err).execute(args);
    }

    @Override
    public Integer call() {
        check(this::read);
        try {
            if (serving) {
                return RecsysServing.measure(scorerName, threads, histories, attentionDims, json, out, err);
            }
            UserSequences sequences;
            List<Sample> train;
            List<Sample> test;
            List<PlantedBehaviors.Impression> plantedTest = List.of();
            Map<String, Object> oracle = null;
            String label;
            if (planted > 0) {
                long g0 = System.nanoTime();
                PlantedBehaviors p = PlantedBehaviors.generate(plantedConfig);
                err.printf(Locale.ROOT, "[recsys] planted set generated in %.1f s%n", (System.nanoTime() - g0) / 1e9);
                List<List<PlantedBehaviors.Impression>> split = p.splitByUser(0.8);
                sequences = p.sequences();
                train = split.get(0).stream().map(PlantedBehaviors.Impression::sample).toList();
                test = split.get(2).stream().map(PlantedBehaviors.Impression::sample).toList();
                plantedTest = split.get(2);
                label = "planted " + p.config();
                oracle = oracle(p, plantedTest, topK, err);
            } else {
                Imported imported = format.equals("taobao") ? TaobaoImporter.read(data) : MovieLensImporter.read(data);
                err.println("[recsys] " + imported.report());
                sequences = UserSequences.of(imported.events());
                Samples s = Samples.cut(sequences, SampleProtocol.defaults().withTrainTargets(trainTargets));
                train = s.train();
                test = s.test();
                label = data.toString();
            }
            err.printf(Locale.ROOT, "[recsys] %s: %,d users, %,d items, %,d training and %,d test samples; %s, %d cores%n", label,
                    sequences.users(), sequences.items(), train.size(), test.size(), MachineInfo.cpuModel(),
                    Runtime.getRuntime().availableProcessors());
            int buckets = positionBuckets >= 0 ? positionBuckets
                    : ModelConfig.positionBucketsFor(planted > 0 ? plantedConfig.window() : SampleProtocol.defaults().historyLength());
            List<Run> runs = new ArrayList<>();
            Popularity popularity = Popularity.fit(sequences, train);
            runs.add(new Run("popularity", 0, popularity.evaluate(test), Double.NaN, Double.NaN));
            for (int seed = 1; seed <= seeds; seed++) {
                for (ModelConfig.Kind kind : kinds) {
                    ModelConfig config = new ModelConfig(kind, kind == ModelConfig.Kind.DARE ? attentionDim : dim, dim, topK,
                            new int[] {200, 80}, buckets);
                    SequenceModel model = new SequenceModel(config, sequences.items(), sequences.categories(), seed);
                    long t0 = System.nanoTime();
                    int s = seed;
                    Trainer.train(model, sequences, train,
                            Trainer.Options.defaults().withEpochs(epochs).withThreads(threads).withSeed(seed).withLearningRate(learningRate),
                            (epoch, done, total, loss) -> {
                                if (done == total) {
                                    err.printf(Locale.ROOT, "[recsys] %s seed %d epoch %d: loss %.4f%n", kind, s, epoch + 1, loss);
                                }
                            });
                    double perSecond = (double) train.size() * epochs / ((System.nanoTime() - t0) / 1e9);
                    Run run = new Run(kind.name(), seed, Evaluation.of(model, sequences, test), perSecond,
                            plantedTest.isEmpty() ? Double.NaN : searchRecall(model, sequences, plantedTest));
                    err.printf(Locale.ROOT, "[recsys] %s seed %d: test AUC %.4f, search recall %.3f, %.0f samples/s%n", kind, s,
                            run.test().auc(), run.searchRecall(), perSecond);
                    runs.add(run);
                }
            }
            List<Map<String, Object>> rows = summarise(runs, out);
            if (json != null) {
                Map<String, Object> report = new LinkedHashMap<>();
                report.put("bench", "recsys");
                report.put("machine", MachineInfo.describe());
                report.put("data", label);
                report.put("users", sequences.users());
                report.put("items", sequences.items());
                report.put("train_samples", train.size());
                report.put("test_samples", test.size());
                report.put("epochs", epochs);
                report.put("position_buckets", buckets);
                report.put("learning_rate", learningRate);
                report.put("attention_dim", attentionDim);
                report.put("dim", dim);
                report.put("top_k", topK);
                report.put("seeds", seeds);
                report.put("rows", rows);
                if (oracle != null) {
                    report.put("oracle_auc", oracle);
                }
                Files.writeString(json, JsonWriter.write(report, 0));
            }
            return 0;
        } catch (Exception e) {
            err.println("bench recsys: " + e);
            e.printStackTrace(err);
            return 1;
        }
    }

    /** Reads the options that are more than a value, and checks them together. */
    private void read() {
        if (models != null) {
            kinds = Arrays.stream(models.split(",")).map(m -> ModelConfig.Kind.valueOf(m.trim().toUpperCase(Locale.ROOT))).toList();
        }
        if (items != null || categories != null) {
            plantedConfig = plantedConfig.withItems(items != null ? items : plantedConfig.items(),
                    categories != null ? categories : plantedConfig.categories());
        }
        if (events != null) {
            String[] mm = events.split("-");
            plantedConfig = plantedConfig.withEvents(Integer.parseInt(mm[0]), Integer.parseInt(mm[mm.length - 1]));
        }
        if (categoryShare != null) {
            plantedConfig = plantedConfig.withCategoryShare(categoryShare);
        }
        if (historyLengths != null) {
            histories = OptionValues.positiveInts("--histories", historyLengths);
        }
        if (attentionDimList != null) {
            attentionDims = OptionValues.positiveInts("--attention-dims", attentionDimList);
        }
        if (!serving && (data == null) == (planted == 0)) {
            throw new IllegalArgumentException("give --data PATH --format taobao|movielens, or --planted USERS");
        }
        if (data != null && !"taobao".equals(format) && !"movielens".equals(format)) {
            throw new IllegalArgumentException("--format is taobao or movielens");
        }
        if (seeds < 1 || epochs < 1 || trainTargets < 1 || attentionDim < 1 || dim < 1 || topK < 1 || threads < 1) {
            throw new IllegalArgumentException("every count must be >= 1");
        }
        if (!(learningRate > 0)) {
            throw new IllegalArgumentException("--lr must be > 0");
        }
        if (planted > 0) {
            plantedConfig = plantedConfig.withUsers(planted); // validates the planted options together
        }
    }

    /**
     * How much the planted search matters: the test AUC of the planted click logit ({@link PlantedBehaviors#logit},
     * every contribution factor known) when the behaviours averaged are the planted S (the Bayes-optimal score),
     * the top K by the planted relevance, K random behaviours of the window, or the whole window. A model's search
     * can only help where the first two are clearly above the last two.
     */
    static Map<String, Object> oracle(PlantedBehaviors p, List<PlantedBehaviors.Impression> test, int topK, PrintStream err) {
        List<Sample> samples = test.stream().map(PlantedBehaviors.Impression::sample).toList();
        ToDoubleFunction<Function<PlantedBehaviors.Impression, int[]>> auc = search -> {
            float[] scores = new float[test.size()];
            for (int i = 0; i < scores.length; i++) {
                scores[i] = (float) p.logit(test.get(i).sample(), search.apply(test.get(i)));
            }
            return Evaluation.of(scores, samples).auc();
        };
        SplittableRandom rnd = new SplittableRandom(99);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("planted_S", auc.applyAsDouble(PlantedBehaviors.Impression::relevantPositions));
        out.put("relevance_top" + topK, auc.applyAsDouble(im -> p.mostRelevant(im.sample(), topK)));
        out.put("random" + topK, auc.applyAsDouble(im -> {
            Sample s = im.sample();
            int[] all = IntStream.range(s.historyFrom(), s.historyTo()).toArray();
            for (int i = 0; i < Math.min(topK, all.length); i++) {
                int j = i + rnd.nextInt(all.length - i);
                int t = all[i];
                all[i] = all[j];
                all[j] = t;
            }
            return Arrays.copyOf(all, Math.min(topK, all.length));
        }));
        out.put("whole_window", auc.applyAsDouble(im -> IntStream.range(im.sample().historyFrom(), im.sample().historyTo())
                .toArray()));
        err.printf(Locale.ROOT, "[recsys] oracle test AUC (planted factors known): %s%n", out);
        return out;
    }

    /** The share of the planted relevant behaviours among the model's top-K selection. */
    static double searchRecall(SequenceModel model, UserSequences data, List<PlantedBehaviors.Impression> impressions) {
        long hits = 0;
        long total = 0;
        for (PlantedBehaviors.Impression im : impressions) {
            Sample s = im.sample();
            SequenceModel.Forward f = model.forward(data.itemsOf(s.user()), data.categoriesOf(s.user()), s.historyFrom(), s.historyTo(),
                    s.item(), s.category());
            Set<Integer> chosen = new HashSet<>();
            for (int j : f.selected) {
                chosen.add(j);
            }
            for (int r : im.relevantPositions()) {
                hits += chosen.contains(r) ? 1 : 0;
                total++;
            }
        }
        return (double) hits / total;
    }

    private static List<Map<String, Object>> summarise(List<Run> runs, PrintStream out) {
        out.printf(Locale.ROOT, "%-11s %6s %17s %17s %17s %17s %11s %13s%n", "model", "seeds", "test AUC", "GAUC (user)",
                "GAUC (category)", "logloss", "samples/s", "search recall");
        List<Map<String, Object>> rows = new ArrayList<>();
        for (String model : List.of("DARE", "TWIN", "DIN", "popularity")) {
            List<Run> mine = runs.stream().filter(r -> r.model().equals(model)).toList();
            if (mine.isEmpty()) {
                continue; // not trained in this run (--models)
            }
            double[] auc = mine.stream().mapToDouble(r -> r.test().auc()).toArray();
            double[] gaucUser = mine.stream().mapToDouble(r -> r.test().gaucByUser()).toArray();
            double[] gaucCategory = mine.stream().mapToDouble(r -> r.test().gaucByCategory()).toArray();
            double[] logloss = mine.stream().mapToDouble(r -> r.test().logloss()).toArray();
            double speed = mine.stream().mapToDouble(Run::samplesPerSecond).average().orElse(Double.NaN);
            double recall = mine.stream().mapToDouble(Run::searchRecall).average().orElse(Double.NaN);
            out.printf(Locale.ROOT, "%-11s %6d %17s %17s %17s %17s %11.0f %13.3f%n", model, mine.size(), meanStd(auc), meanStd(gaucUser),
                    meanStd(gaucCategory), meanStd(logloss), speed, recall);
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("model", model);
            row.put("seeds", mine.size());
            row.put("auc_mean", mean(auc));
            row.put("auc_std", std(auc));
            row.put("gauc_user_mean", mean(gaucUser));
            row.put("gauc_category_mean", mean(gaucCategory));
            row.put("logloss_mean", mean(logloss));
            row.put("train_samples_per_s", speed);
            row.put("search_recall", recall);
            row.put("auc_per_seed", Arrays.stream(auc).boxed().toList());
            rows.add(row);
        }
        return rows;
    }

    private static String meanStd(double[] v) {
        return String.format(Locale.ROOT, "%.4f +- %.4f", mean(v), std(v));
    }

    private static double mean(double[] v) {
        return Arrays.stream(v).average().orElse(Double.NaN);
    }

    private static double std(double[] v) {
        if (v.length < 2) {
            return 0;
        }
        double m = mean(v);
        return Math.sqrt(Arrays.stream(v).map(x -> (x - m) * (x - m)).sum() / (v.length - 1));
    }
}
