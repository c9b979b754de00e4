package dev.attend.recsys.data;

import java.util.Objects;

/**
 * One user behaviour in the canonical form every importer produces and the models read.
 *
 * @param user     the user's id in the source data
 * @param item     the item's id in the source data
 * @param category the item's category id (source categories, or a genre index for MovieLens)
 * @param action   what the user did: {@code pv}, {@code cart}, {@code fav}, {@code buy} (Taobao) or {@code rate}
 *                 (MovieLens)
 * @param time     when, in seconds since the Unix epoch
 */
public record BehaviorEvent(long user, long item, long category, String action, long time) {

    public BehaviorEvent {
        Objects.requireNonNull(action, "action");
    }
}
