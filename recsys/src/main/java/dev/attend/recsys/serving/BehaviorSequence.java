package dev.attend.recsys.serving;

/**
 * A user's behaviours at one moment, oldest first; {@code version} changes whenever they do (0: none held).
 */
public record BehaviorSequence(long user, long[] items, long[] categories, long[] times, String[] actions, long version) {

    /** The sequence of a user with no behaviours. */
    public static BehaviorSequence empty(long user) {
        return new BehaviorSequence(user, new long[0], new long[0], new long[0], new String[0], 0);
    }

    public int length() {
        return items.length;
    }
}
