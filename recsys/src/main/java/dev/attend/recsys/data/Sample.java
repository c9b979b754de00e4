package dev.attend.recsys.data;

/**
 * One labelled example: does user {@code user} (dense) act on {@code item} right after the behaviours
 * {@code [historyFrom, historyTo)} of their sequence?
 *
 * @param user        dense user index in {@link UserSequences}
 * @param historyFrom first behaviour of the history (inclusive)
 * @param historyTo   end of the history (exclusive): the target's position in the sequence
 * @param item        dense target item (the true next item, or a sampled negative)
 * @param category    its dense category
 * @param label       1 for the true next item, 0 for a negative
 */
public record Sample(int user, int historyFrom, int historyTo, int item, int category, float label) {

    public int historyLength() {
        return historyTo - historyFrom;
    }
}
