package dev.attend.recsys.serving;

/**
 * Where a {@link Recommender} reads users' behaviour sequences: the local {@link BehaviorSequenceStore}, or the
 * streaming module's store that a Kafka topology keeps.
 */
public interface SequenceSource {

    /** The user's behaviours now (empty, version 0, for an unknown user). */
    BehaviorSequence get(long user);

    /** The version of the user's behaviours (0 for an unknown user): cheap, for caches. */
    long version(long user);

    /** How many behaviours the user has (0 for an unknown user). */
    default int length(long user) {
        return get(user).length();
    }
}
