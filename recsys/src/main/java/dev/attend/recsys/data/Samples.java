package dev.attend.recsys.data;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Training, validation and test samples cut from user sequences by a {@link SampleProtocol}: for every user
 * with enough behaviours, the last behaviour is the test target, the one before it the validation target, and
 * up to {@code trainTargets} behaviours before that the training targets; each target's history is the
 * behaviours before it (at most {@code historyLength}), and each positive gets {@code negatives} negatives with
 * the same history, items drawn by frequency among those the user never touched (redrawn otherwise).
 */
public record Samples(List<Sample> train, List<Sample> validation, List<Sample> test, int usersKept, int usersSkipped) {

    /** Draws for a negative before the sampler gives up on a user who touched nearly every item. */
    static final int MAX_DRAWS = 1000;

    public static Samples cut(UserSequences data, SampleProtocol protocol) {
        FrequencySampler sampler = new FrequencySampler(data.itemCounts());
        List<Sample> train = new ArrayList<>();
        List<Sample> validation = new ArrayList<>();
        List<Sample> test = new ArrayList<>();
        int kept = 0;
        int skipped = 0;
        for (int u = 0; u < data.users(); u++) {
            int[] items = data.itemsOf(u);
            int n = items.length;
            if (n < protocol.minEvents()) {
                skipped++;
                continue;
            }
            kept++;
            // One random stream per user: a user's samples do not depend on the users before them.
            SplittableRandom rnd = new SplittableRandom(protocol.seed() * 0x9E3779B97F4A7C15L + data.userId(u));
            Set<Integer> touched = new HashSet<>();
            for (int item : items) {
                touched.add(item);
            }
            add(test, data, protocol, sampler, rnd, touched, u, n - 1);
            add(validation, data, protocol, sampler, rnd, touched, u, n - 2);
            for (int t = n - 3; t >= Math.max(1, n - 2 - protocol.trainTargets()); t--) {
                add(train, data, protocol, sampler, rnd, touched, u, t);
            }
        }
        return new Samples(List.copyOf(train), List.copyOf(validation), List.copyOf(test), kept, skipped);
    }

    private static void add(List<Sample> out, UserSequences data, SampleProtocol protocol, FrequencySampler sampler,
                            SplittableRandom rnd, Set<Integer> touched, int u, int target) {
        int from = Math.max(0, target - protocol.historyLength());
        int item = data.itemsOf(u)[target];
        out.add(new Sample(u, from, target, item, data.categoriesOf(u)[target], 1));
        for (int k = 0; k < protocol.negatives(); k++) {
            int negative = 0;
            for (int draw = 0; draw < MAX_DRAWS; draw++) {
                int candidate = sampler.next(rnd);
                if (candidate != 0 && !touched.contains(candidate)) {
                    negative = candidate;
                    break;
                }
            }
            if (negative != 0) {
                out.add(new Sample(u, from, target, negative, data.categoryOf(negative), 0));
            }
        }
    }
}
