package dev.attend.recsys.data;

/**
 * How samples are cut from user sequences, following DARE's protocol (the defaults are its choices where it
 * states them).
 *
 * @param minEvents         users with fewer behaviours are left out (they cannot give a test, a validation and a
 *                          training target with history)
 * @param historyLength     the most behaviours before a target a sample's history holds (DARE: 200 for training)
 * @param trainTargets      training targets per user: the latest positions before the validation target
 * @param negatives         negatives per positive, sampled by item frequency among items the user never touched
 * @param seed              seed of the negative sampling: the same data and protocol give the same samples
 */
public record SampleProtocol(int minEvents, int historyLength, int trainTargets, int negatives, long seed) {

    public SampleProtocol {
        if (minEvents < 4 || historyLength < 1 || trainTargets < 1 || negatives < 0) {
            throw new IllegalArgumentException("need minEvents >= 4, historyLength >= 1, trainTargets >= 1 and negatives >= 0, got "
                    + minEvents + ", " + historyLength + ", " + trainTargets + ", " + negatives);
        }
    }

    /** At least 4 behaviours, histories of 200, 5 training targets per user, 2 negatives per positive, seed 1. */
    public static SampleProtocol defaults() {
        return new SampleProtocol(4, 200, 5, 2, 1);
    }

    public SampleProtocol withSeed(long s) {
        return new SampleProtocol(minEvents, historyLength, trainTargets, negatives, s);
    }

    public SampleProtocol withHistoryLength(int length) {
        return new SampleProtocol(minEvents, length, trainTargets, negatives, seed);
    }

    public SampleProtocol withTrainTargets(int targets) {
        return new SampleProtocol(minEvents, historyLength, targets, negatives, seed);
    }
}
