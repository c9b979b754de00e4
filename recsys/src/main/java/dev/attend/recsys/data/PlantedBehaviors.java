package dev.attend.recsys.data;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * A synthetic behaviour set with planted structure, for testing long-sequence models at scale (DARE's gains
 * were measured at 10^6 users; the real sets here are small).
 *
 * <p><b>Items.</b> Item i has a category k(i) and two independent factors of dimension {@code factorDim}: a
 * <em>relevance</em> factor {@code a_i = sqrt(rho) A_k(i) + sqrt(1 - rho) alpha_i} (a category part shared by the
 * category's items and an item part, {@code rho = categoryShare}, every entry standard normal) and a
 * <em>contribution</em> factor {@code v_i} of the item alone (entries normal with variance {@code 1 / factorDim},
 * drawn independently of everything else). Which past behaviours matter for a target follows one factor, what
 * they contribute follows the other, and both are properties of the item, not of its category: the situation
 * DARE's separate attention and representation embeddings are built for. The category is a weaker signal: it
 * holds a share {@code rho} of the relevance and nothing of the contribution.
 *
 * <p><b>Users.</b> Each user has a few interest categories; a history of {@code minEvents..maxEvents} behaviours
 * picks an interest category with probability {@code focus}, else any, and a uniform item in it.
 *
 * <p><b>Clicks.</b> A user sees {@code impressions} candidates after the history (half from their interests, half
 * from anywhere). The click probability of candidate t is
 * {@code sigmoid(bias + gain * sqrt(factorDim) * v_t . mean_{j in S} v_j)}, where S holds the {@code relevant}
 * behaviours of the last {@code window} with the highest {@code a_j . a_t}: a few relevant past behaviours drive
 * each click. Their positions are kept, so that a model's search can be scored against them (search recall), and
 * the factors are kept, so that the click odds of other searches can be computed ({@link #logit}).
 *
 * <p>Generation is reproducible from the seed, user by user (parallel over users).
 */
public final class PlantedBehaviors {

    /**
     * @param users         users (10^5 and more for the scale tests)
     * @param items         items (dense ids 1..items)
     * @param categories    categories (dense ids 1..categories)
     * @param minEvents     the shortest history
     * @param maxEvents     the longest history
     * @param interests     interest categories per user
     * @param focus         the share of a user's behaviours inside their interests
     * @param factorDim     dimension of the relevance and contribution factors
     * @param categoryShare the share of an item's relevance factor (variance) that its category gives, in [0, 1]
     * @param relevant      behaviours that drive a click (|S|)
     * @param window        the last behaviours S is chosen from (the model's history length)
     * @param impressions   labelled candidates per user
     * @param gain          scale of the contribution term
     * @param bias          click logit offset
     * @param seed          seed
     */
    public record Config(int users, int items, int categories, int minEvents, int maxEvents, int interests, double focus,
                         int factorDim, double categoryShare, int relevant, int window, int impressions, double gain, double bias,
                         long seed) {

        public Config {
            if (users < 1 || items < categories || categories < 1 || minEvents < relevant || maxEvents < minEvents || interests < 1
                    || !(focus >= 0 && focus <= 1) || factorDim < 1 || !(categoryShare >= 0 && categoryShare <= 1) || relevant < 1
                    || window < relevant || impressions < 2) {
                throw new IllegalArgumentException("inconsistent planted-data configuration: " + this);
            }
        }

        /**
         * 10^5 users, 5,000 items in 100 categories (about 100 training impressions per item and epoch: enough
         * for an item's rows to be learnt), histories of 1,000 to 2,000, 3 relevant behaviours in the last 200,
         * a category share of 0.3 in the relevance factor.
         */
        public static Config defaults() {
            return new Config(100_000, 5_000, 100, 1_000, 2_000, 3, 0.8, 8, 0.3, 3, 200, 6, 4.0, -0.5, 1);
        }

        public Config withUsers(int u) {
            return new Config(u, items, categories, minEvents, maxEvents, interests, focus, factorDim, categoryShare, relevant, window,
                    impressions, gain, bias, seed);
        }

        public Config withEvents(int min, int max) {
            return new Config(users, items, categories, min, max, interests, focus, factorDim, categoryShare, relevant, window,
                    impressions, gain, bias, seed);
        }

        public Config withItems(int i, int c) {
            return new Config(users, i, c, minEvents, maxEvents, interests, focus, factorDim, categoryShare, relevant, window,
                    impressions, gain, bias, seed);
        }

        public Config withCategoryShare(double rho) {
            return new Config(users, items, categories, minEvents, maxEvents, interests, focus, factorDim, rho, relevant, window,
                    impressions, gain, bias, seed);
        }

        public Config withGain(double g) {
            return new Config(users, items, categories, minEvents, maxEvents, interests, focus, factorDim, categoryShare, relevant, window,
                    impressions, g, bias, seed);
        }

        public Config withSeed(long s) {
            return new Config(users, items, categories, minEvents, maxEvents, interests, focus, factorDim, categoryShare, relevant, window,
                    impressions, gain, bias, s);
        }
    }

    /** A labelled impression and the positions (into the user's sequence) of the behaviours that drove its click odds. */
    public record Impression(Sample sample, int[] relevantPositions) {
    }

    private final Config config;
    private final UserSequences sequences;
    private final List<Impression> impressions;
    private final float[][] relevance;
    private final float[][] contribution;

    private PlantedBehaviors(Config config, UserSequences sequences, List<Impression> impressions, float[][] relevance,
                             float[][] contribution) {
        this.config = config;
        this.sequences = sequences;
        this.impressions = impressions;
        this.relevance = relevance;
        this.contribution = contribution;
    }

    public static PlantedBehaviors generate(Config c) {
        SplittableRandom root = new SplittableRandom(c.seed());
        int dim = c.factorDim();
        int[] itemCategory = new int[c.items() + 1];
        float[][] relevance = new float[c.items() + 1][];
        float[][] contribution = new float[c.items() + 1][];
        float[][] categoryFactor = new float[c.categories() + 1][];
        for (int k = 1; k <= c.categories(); k++) {
            categoryFactor[k] = gaussian(root, dim, Math.sqrt(c.categoryShare()));
        }
        List<List<Integer>> byCategory = new ArrayList<>();
        for (int k = 0; k <= c.categories(); k++) {
            byCategory.add(new ArrayList<>());
        }
        for (int i = 1; i <= c.items(); i++) {
            int k = 1 + (i - 1) % c.categories(); // every category has items
            itemCategory[i] = k;
            byCategory.get(k).add(i);
            relevance[i] = gaussian(root, dim, Math.sqrt(1 - c.categoryShare()));
            for (int d = 0; d < dim; d++) {
                relevance[i][d] += categoryFactor[k][d];
            }
            contribution[i] = gaussian(root, dim, 1 / Math.sqrt(dim));
        }
        int[][] members = new int[c.categories() + 1][];
        for (int k = 0; k <= c.categories(); k++) {
            members[k] = byCategory.get(k).stream().mapToInt(Integer::intValue).toArray();
        }
        int[][] items = new int[c.users()][];
        long[][] times = new long[c.users()][];
        Impression[][] perUser = new Impression[c.users()][];
        IntStream.range(0, c.users()).parallel().forEach(u -> {
            SplittableRandom rnd = new SplittableRandom(c.seed() * 0x9E3779B97F4A7C15L + u * 0xBF58476D1CE4E5B9L + 1);
            int[] interests = new int[c.interests()];
            for (int k = 0; k < interests.length; k++) {
                interests[k] = 1 + rnd.nextInt(c.categories());
            }
            int n = c.minEvents() + rnd.nextInt(c.maxEvents() - c.minEvents() + 1);
            items[u] = new int[n];
            times[u] = new long[n];
            long t = 1_500_000_000L + rnd.nextInt(1_000_000);
            for (int j = 0; j < n; j++) {
                int k = rnd.nextDouble() < c.focus() ? interests[rnd.nextInt(interests.length)] : 1 + rnd.nextInt(c.categories());
                items[u][j] = members[k][rnd.nextInt(members[k].length)];
                t += 1 + rnd.nextInt(600);
                times[u][j] = t;
            }
            int from = Math.max(0, n - c.window());
            perUser[u] = new Impression[c.impressions()];
            for (int m = 0; m < c.impressions(); m++) {
                int k = m % 2 == 0 ? interests[rnd.nextInt(interests.length)] : 1 + rnd.nextInt(c.categories());
                int target = members[k][rnd.nextInt(members[k].length)];
                int[] relevant = mostRelevant(items[u], from, n, relevance, relevance[target], c.relevant());
                double logit = logit(c, contribution, items[u], relevant, target);
                float label = rnd.nextDouble() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
                perUser[u][m] = new Impression(new Sample(u, from, n, target, itemCategory[target], label), relevant);
            }
        });
        UserSequences sequences = UserSequences.ofDense(items, times, itemCategory, c.categories());
        List<Impression> all = new ArrayList<>();
        for (Impression[] list : perUser) {
            all.addAll(List.of(list));
        }
        return new PlantedBehaviors(c, sequences, List.copyOf(all), relevance, contribution);
    }

    public Config config() {
        return config;
    }

    public UserSequences sequences() {
        return sequences;
    }

    /** Every user's labelled impressions, users in order. */
    public List<Impression> impressions() {
        return impressions;
    }

    /** Item {@code item}'s planted relevance factor (a copy). */
    public float[] relevance(int item) {
        return relevance[item].clone();
    }

    /** Item {@code item}'s planted contribution factor (a copy). */
    public float[] contribution(int item) {
        return contribution[item].clone();
    }

    /**
     * The click logit of {@code sample}'s target had the behaviours at {@code positions} (into the user's sequence)
     * driven it: with the planted positions, the logit the label was drawn from (the Bayes-optimal score); with
     * other positions, what a model that knew every contribution factor but searched that way would score.
     */
    public double logit(Sample sample, int[] positions) {
        return logit(config, contribution, sequences.itemsOf(sample.user()), positions, sample.item());
    }

    /** The positions in {@code [from, to)} of the {@code count} behaviours with the highest planted relevance to the target. */
    public int[] mostRelevant(Sample sample, int count) {
        return mostRelevant(sequences.itemsOf(sample.user()), sample.historyFrom(), sample.historyTo(), relevance, relevance[sample.item()],
                count);
    }

    /**
     * The impressions split by user: the first {@code trainShare} of the users train, the rest are split evenly
     * between validation and test.
     */
    public List<List<Impression>> splitByUser(double trainShare) {
        int trainUsers = (int) Math.round(config.users() * trainShare);
        int validationUsers = (config.users() - trainUsers) / 2;
        List<Impression> train = new ArrayList<>();
        List<Impression> validation = new ArrayList<>();
        List<Impression> test = new ArrayList<>();
        for (Impression i : impressions) {
            int u = i.sample().user();
            (u < trainUsers ? train : u < trainUsers + validationUsers ? validation : test).add(i);
        }
        return List.of(train, validation, test);
    }

    private static double logit(Config c, float[][] contribution, int[] items, int[] positions, int target) {
        float[] mean = new float[c.factorDim()];
        for (int j : positions) {
            for (int d = 0; d < mean.length; d++) {
                mean[d] += contribution[items[j]][d] / positions.length;
            }
        }
        double logit = c.bias();
        for (int d = 0; d < mean.length; d++) {
            logit += c.gain() * mean[d] * contribution[target][d] * Math.sqrt(c.factorDim());
        }
        return logit;
    }

    /** The positions in {@code [from, to)} of the {@code count} behaviours most relevant to the target, best first. */
    static int[] mostRelevant(int[] items, int from, int to, float[][] relevance, float[] target, int count) {
        int n = to - from;
        float[] scores = new float[n];
        for (int j = 0; j < n; j++) {
            float s = 0;
            float[] a = relevance[items[from + j]];
            for (int d = 0; d < target.length; d++) {
                s += a[d] * target[d];
            }
            scores[j] = s;
        }
        int k = Math.min(count, n);
        int[] best = new int[k];
        boolean[] taken = new boolean[n];
        for (int r = 0; r < k; r++) {
            int arg = -1;
            for (int j = n - 1; j >= 0; j--) { // ties: the more recent first
                if (!taken[j] && (arg < 0 || scores[j] > scores[arg])) {
                    arg = j;
                }
            }
            taken[arg] = true;
            best[r] = from + arg;
        }
        return best;
    }

    private static float[] gaussian(SplittableRandom rnd, int dim, double std) {
        float[] v = new float[dim];
        for (int d = 0; d < dim; d++) {
            v[d] = (float) (std * rnd.nextGaussian());
        }
        return v;
    }
}
