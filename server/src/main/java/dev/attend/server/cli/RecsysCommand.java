package dev.attend.server.cli;

import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.data.Imported;
import dev.attend.recsys.data.ItemCatalog;
import dev.attend.recsys.data.MovieLensImporter;
import dev.attend.recsys.data.SampleProtocol;
import dev.attend.recsys.data.Samples;
import dev.attend.recsys.data.TaobaoImporter;
import dev.attend.recsys.data.UserSequences;
import dev.attend.recsys.eval.Evaluation;
import dev.attend.recsys.eval.Popularity;
import dev.attend.recsys.model.ModelConfig;
import dev.attend.recsys.model.ModelFiles;
import dev.attend.recsys.model.SequenceModel;
import dev.attend.recsys.model.Trainer;
import dev.attend.recsys.serving.BehaviorSequenceStore;
import dev.attend.server.ConfigException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code attend recsys train|eval|import}: long-sequence recommendation models from behaviour files. */
@Command(
        name = "recsys",
        mixinStandardHelpOptions = true,
        versionProvider = AttendCli.Version.class,
        description = "Train, evaluate and load long-sequence recommendation models (DARE, TWIN-like, DIN-like).",
        subcommands = {RecsysCommand.Train.class, RecsysCommand.Eval.class, RecsysCommand.Import.class})
public final class RecsysCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "Missing required subcommand: train, eval or import");
    }

    /** Where the behaviours come from. */
    static final class DataOptions {

        @Option(names = "--data", paramLabel = "PATH", required = true,
                description = "A Taobao UserBehavior CSV (user,item,category,behavior,time), or a MovieLens directory "
                        + "(u.data + u.item, or ratings.csv + movies.csv).")
        Path data;

        @Option(names = "--format", paramLabel = "taobao|movielens", required = true, description = "The format of --data.")
        String format;

        Imported read(PrintWriter err) throws IOException {
            return readBehaviors(data, format, err);
        }
    }

    /** A behaviour file in {@code format} (taobao or movielens), with the import report (rows skipped, why) on {@code err}. */
    static Imported readBehaviors(Path path, String format, PrintWriter err) throws IOException {
        Imported imported = switch (format) {
            case "taobao" -> TaobaoImporter.read(path);
            case "movielens" -> MovieLensImporter.read(path);
            default -> throw new ConfigException("--format is taobao or movielens, got '" + format + "'");
        };
        err.println("attend: " + imported.report());
        err.flush();
        return imported;
    }

    /** The progress bar of a long CLI job over {@code max} events. */
    static ProgressBar eventProgress(String task, long max) {
        return CliProgress.start(task, max, " events", true);
    }

    /** The sample protocol (DARE's, see {@link SampleProtocol}). */
    static final class ProtocolOptions {

        @Option(names = "--history", paramLabel = "N", defaultValue = "200", description = "Behaviours before a target (default 200).")
        int history;

        @Option(names = "--train-targets", paramLabel = "N", defaultValue = "20",
                description = "Training targets per user, before the validation and test events (default 20).")
        int trainTargets;

        @Option(names = "--sample-seed", paramLabel = "SEED", defaultValue = "1", description = "Seed of the negative sampling (default 1).")
        long seed;

        SampleProtocol protocol() {
            return SampleProtocol.defaults().withHistoryLength(history).withTrainTargets(trainTargets).withSeed(seed);
        }
    }

    static Path defaultModelFile(Path dataDir) {
        return dataDir.resolve("recsys").resolve("model.bin");
    }

    @Command(name = "train", mixinStandardHelpOptions = true, versionProvider = AttendCli.Version.class,
            description = {"Train a model on a behaviour file and save it with its item catalog (what `attend serve` loads).",
                    "Prints the validation and test AUC, GAUC and logloss next to the popularity baseline."})
    static final class Train implements Callable<Integer> {

        @Mixin
        DataOptions dataOptions = new DataOptions();

        @Mixin
        ProtocolOptions protocolOptions = new ProtocolOptions();

        @Option(names = "--kind", paramLabel = "dare|twin|din", defaultValue = "dare",
                description = "DARE (separate attention and representation tables, the default), TWIN (one table) or DIN (no top-K).")
        String kind;

        @Option(names = "--attention-dim", paramLabel = "D", defaultValue = "16", description = "DARE's attention dimension (default 16).")
        int attentionDim;

        @Option(names = "--dim", paramLabel = "D", defaultValue = "64",
                description = "The representation dimension (TWIN's and DIN's one table; default 64).")
        int dim;

        @Option(names = "--top-k", paramLabel = "K", defaultValue = "20", description = "Behaviours the search keeps (default 20).")
        int topK;

        @Option(names = "--position-buckets", paramLabel = "B",
                description = "Position-gap embeddings with B log2 buckets of the distance from the history's end; 0 for none "
                        + "(default: enough for --history, 9 for 200).")
        Integer positionBuckets;

        @Option(names = "--epochs", paramLabel = "N", defaultValue = "2", description = "Epochs (default 2).")
        int epochs;

        @Option(names = "--seed", paramLabel = "SEED", defaultValue = "1", description = "Initialisation and shuffling seed (default 1).")
        long seed;

        @Option(names = "--threads", paramLabel = "N", description = "Training threads (default: every core).")
        Integer threads;

        @Option(names = "--checkpoint", paramLabel = "FILE",
                description = "Checkpoint after every epoch, and resume from it if it exists (an interrupted run continues).")
        Path checkpoint;

        @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = "data", description = "The server's data directory (default ./data).")
        Path dataDir;

        @Option(names = "--out", paramLabel = "FILE", description = "Where to save the model (default: recsys/model.bin in the data directory).")
        Path out;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PrintWriter err = spec.commandLine().getErr();
            PrintWriter stdout = spec.commandLine().getOut();
            ModelConfig.Kind k;
            try {
                k = ModelConfig.Kind.valueOf(kind.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new ConfigException("--kind is dare, twin or din, got '" + kind + "'");
            }
            ModelConfig config;
            try {
                config = new ModelConfig(k, k == ModelConfig.Kind.DARE ? attentionDim : dim, dim, topK, new int[] {200, 80},
                        positionBuckets != null ? positionBuckets : ModelConfig.positionBucketsFor(protocolOptions.history));
            } catch (IllegalArgumentException e) {
                throw new ConfigException(e.getMessage());
            }
            Imported imported = dataOptions.read(err);
            UserSequences data = UserSequences.of(imported.events());
            Samples samples = Samples.cut(data, protocolOptions.protocol());
            err.printf(Locale.ROOT, "attend: %,d users (%,d with too few events skipped), %,d items; %,d training, %,d validation, %,d test samples%n",
                    samples.usersKept(), samples.usersSkipped(), data.items(), samples.train().size(), samples.validation().size(),
                    samples.test().size());
            if (samples.train().isEmpty()) {
                throw new ConfigException("no training samples: every user has fewer events than the protocol needs");
            }
            SequenceModel model = new SequenceModel(config, data.items(), data.categories(), seed);
            Trainer.Options options = Trainer.Options.defaults().withEpochs(epochs).withSeed(seed)
                    .withThreads(threads == null ? Runtime.getRuntime().availableProcessors() : threads);
            long t0 = System.nanoTime();
            try (ProgressBar bar = CliProgress.start("train " + k, (long) epochs * samples.train().size(), " samples", true)) {
                Trainer.train(model, data, samples.train(), options, (epoch, done, total, loss) -> {
                    bar.stepTo((long) epoch * total + done);
                    bar.setExtraMessage(Double.isNaN(loss) ? "resumed" : String.format(Locale.ROOT, "loss %.4f", loss));
                }, checkpoint);
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            Path file = out != null ? out : defaultModelFile(dataDir);
            ModelFiles.save(model, data.catalog(), file);
            printEvaluation(stdout, model, data, samples);
            stdout.printf(Locale.ROOT, "trained in %.1f s (%,.0f samples/s); saved %s%n", seconds, epochs * samples.train().size() / seconds,
                    file.toAbsolutePath());
            stdout.flush();
            return 0;
        }
    }

    @Command(name = "eval", mixinStandardHelpOptions = true, versionProvider = AttendCli.Version.class,
            description = "Evaluate a saved model on a behaviour file's validation and test samples (the training protocol's split).")
    static final class Eval implements Callable<Integer> {

        @Mixin
        DataOptions dataOptions = new DataOptions();

        @Mixin
        ProtocolOptions protocolOptions = new ProtocolOptions();

        @Option(names = "--model", paramLabel = "FILE", required = true, description = "A model saved by `attend recsys train`.")
        Path model;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PrintWriter err = spec.commandLine().getErr();
            PrintWriter stdout = spec.commandLine().getOut();
            if (!Files.exists(model)) {
                throw new ConfigException("no model at " + model);
            }
            ModelFiles.Saved saved = ModelFiles.loadWithCatalog(model);
            Imported imported = dataOptions.read(err);
            UserSequences data = UserSequences.of(imported.events());
            if (saved.catalog() != null && !sameIds(saved.catalog(), data)) {
                throw new ConfigException(model + " was trained on another data set (" + saved.catalog().items() + " items, "
                        + saved.catalog().categories() + " categories, numbered differently; this one has " + data.items() + " and "
                        + data.categories() + ")");
            }
            printEvaluation(stdout, saved.model(), data, Samples.cut(data, protocolOptions.protocol()));
            stdout.flush();
            return 0;
        }
    }

    @Command(name = "import", mixinStandardHelpOptions = true, versionProvider = AttendCli.Version.class,
            description = "Load a behaviour file into the local behaviour store (the histories `attend serve --kafka-bootstrap none` scores against).")
    static final class Import implements Callable<Integer> {

        @Mixin
        DataOptions dataOptions = new DataOptions();

        @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = "data", description = "The server's data directory (default ./data).")
        Path dataDir;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            PrintWriter err = spec.commandLine().getErr();
            Imported imported = dataOptions.read(err);
            List<BehaviorEvent> events = imported.events();
            int added = 0;
            try (BehaviorSequenceStore store = BehaviorSequenceStore.open(dataDir.resolve("recsys").resolve("behaviors"),
                    BehaviorSequenceStore.DEFAULT_MAX_PER_USER, true);
                 ProgressBar bar = eventProgress("import", events.size())) {
                for (int from = 0; from < events.size(); from += 10_000) {
                    List<BehaviorEvent> batch = events.subList(from, Math.min(events.size(), from + 10_000));
                    added += store.append(batch);
                    bar.stepBy(batch.size());
                }
                spec.commandLine().getOut().printf(Locale.ROOT, "%,d events read, %,d new; the store holds %,d users and %,d behaviours%n",
                        events.size(), added, store.users(), store.events());
            }
            spec.commandLine().getOut().flush();
            return 0;
        }
    }

    /** Whether the catalog numbers the data's items and categories as the data does (the same data set). */
    private static boolean sameIds(ItemCatalog catalog, UserSequences data) {
        if (catalog.items() != data.items() || catalog.categories() != data.categories()) {
            return false;
        }
        for (int i = 1; i <= data.items(); i++) {
            if (catalog.itemId(i) != data.itemId(i) || catalog.categoryOf(i) != data.categoryOf(i)) {
                return false;
            }
        }
        for (int c = 1; c <= data.categories(); c++) {
            if (catalog.categoryId(c) != data.categoryId(c)) {
                return false;
            }
        }
        return true;
    }

    /** The model's validation and test measures, and popularity's on the test samples. */
    private static void printEvaluation(PrintWriter out, SequenceModel model, UserSequences data, Samples samples) {
        String name = model.config().kind().name();
        out.printf(Locale.ROOT, "%-12s %-11s %8s %12s %16s %9s%n", "model", "split", "AUC", "GAUC (user)", "GAUC (category)", "logloss");
        print(out, name, "validation", Evaluation.of(model, data, samples.validation()));
        print(out, name, "test", Evaluation.of(model, data, samples.test()));
        print(out, "popularity", "test", Popularity.fit(data, samples.train()).evaluate(samples.test()));
    }

    private static void print(PrintWriter out, String model, String split, Evaluation e) {
        out.printf(Locale.ROOT, "%-12s %-11s %8.4f %12.4f %16.4f %9.4f%n", model, split, e.auc(), e.gaucByUser(), e.gaucByCategory(), e.logloss());
    }
}
