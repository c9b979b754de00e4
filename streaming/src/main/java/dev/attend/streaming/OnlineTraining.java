package dev.attend.streaming;

import dev.attend.recsys.data.ItemCatalog;
import dev.attend.recsys.eval.Metrics;
import dev.attend.recsys.model.ModelFiles;
import dev.attend.recsys.model.OnlineLearner;
import dev.attend.recsys.model.SequenceModel;
import dev.attend.recsys.serving.BehaviorSequence;
import dev.attend.recsys.serving.SequenceSource;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Trains the served model from the events topic as events arrive: a consumer of its own group reads every event,
 * takes the user's behaviours before it from the sequence store and hands both to an {@link OnlineLearner}
 * (prequential score, then a step; new items get rows). The model and catalog are the ones a recommender serves,
 * changed in place, so a user's next scores use what the last events taught.
 *
 * <p><b>Snapshots and offsets.</b> Every {@link Options#snapshotInterval} (and on close) the model and its catalog
 * are saved to {@link Options#snapshotFile} (atomically: the old file or the new), and only then are the offsets
 * of the events in it committed. After a crash the server loads the last snapshot and the group resumes after
 * the last committed offset: the events since that snapshot are learned again, none is lost to the model (at
 * least once). A group without committed offsets starts at the end of the topic: a model learns from the events
 * that arrive after it starts serving.
 *
 * <p><b>Bounded growth.</b> Every new item id gets embedding rows (and Adam's moments) that stay in the model and
 * in every snapshot, so a stream of made-up item ids would grow the model without end. New items are admitted at
 * most {@link Options#newItemsPerWindow} per {@link Options#newItemsWindow} (10,000 a minute by default) and while
 * the catalog holds fewer than {@link Options#maxItems} items (1,000,000 by default; a catalog loaded larger keeps
 * its size and admits none). An event whose item is new and over either limit is not learned (not scored, no
 * step, its item and category get no row) and is counted in {@link #itemsRefused()}; events on known items are
 * learned as always.
 *
 * <p>Malformed records are skipped (the sequence topology sends them to the dead-letter topic). Each instance of
 * a cluster trains its own copy from the whole stream (its group id names the instance); the history of a user
 * held by another instance reads as empty here.
 */
public final class OnlineTraining implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(OnlineTraining.class);

    /** Scored (event, negative) pairs the prequential AUC is computed over: the most recent ones. */
    static final int AUC_WINDOW = 10_000;

    /**
     * @param groupId          the consumer group (one per instance: each trains its own copy of the model)
     * @param snapshotFile     where the model and catalog are saved
     * @param snapshotInterval how often (when events arrived since the last one)
     * @param learner          the learner's options
     * @param newItemsPerWindow the most new items admitted (given rows) per {@code newItemsWindow}; 0 admits none
     * @param newItemsWindow    the window of that limit (a fixed window from the first new item after the last one)
     * @param maxItems          the most items the catalog may hold through online learning (a catalog that starts
     *                          larger keeps its size)
     */
    public record Options(String groupId, Path snapshotFile, Duration snapshotInterval, OnlineLearner.Options learner,
                          int newItemsPerWindow, Duration newItemsWindow, int maxItems) {

        /** New items admitted per window unless configured. */
        public static final int DEFAULT_NEW_ITEMS_PER_WINDOW = 10_000;
        /** The window of that limit unless configured. */
        public static final Duration DEFAULT_NEW_ITEMS_WINDOW = Duration.ofMinutes(1);
        /** The most items a catalog may reach through online learning unless configured. */
        public static final int DEFAULT_MAX_ITEMS = 1_000_000;

        public Options {
            if (groupId == null || groupId.isBlank()) {
                throw new IllegalArgumentException("a consumer group id is required");
            }
            if (snapshotFile == null) {
                throw new IllegalArgumentException("a snapshot file is required");
            }
            if (snapshotInterval == null || snapshotInterval.isNegative() || snapshotInterval.isZero()) {
                throw new IllegalArgumentException("the snapshot interval must be positive, got " + snapshotInterval);
            }
            if (newItemsPerWindow < 0) {
                throw new IllegalArgumentException("new items per window must be >= 0, got " + newItemsPerWindow);
            }
            if (newItemsWindow == null || newItemsWindow.isNegative() || newItemsWindow.isZero()) {
                throw new IllegalArgumentException("the new-item window must be positive, got " + newItemsWindow);
            }
            if (maxItems < 1) {
                throw new IllegalArgumentException("max items must be >= 1, got " + maxItems);
            }
        }

        /** The default limits on new items. */
        public Options(String groupId, Path snapshotFile, Duration snapshotInterval, OnlineLearner.Options learner) {
            this(groupId, snapshotFile, snapshotInterval, learner, DEFAULT_NEW_ITEMS_PER_WINDOW, DEFAULT_NEW_ITEMS_WINDOW, DEFAULT_MAX_ITEMS);
        }

        /** Group {@code attend-online-<instance>}, a snapshot a minute, the learner's defaults. */
        public static Options defaults(String instance, Path snapshotFile) {
            return new Options("attend-online-" + instance, snapshotFile, Duration.ofMinutes(1), OnlineLearner.Options.defaults());
        }

        public Options withSnapshotInterval(Duration d) {
            return new Options(groupId, snapshotFile, d, learner, newItemsPerWindow, newItemsWindow, maxItems);
        }

        public Options withLearner(OnlineLearner.Options o) {
            return new Options(groupId, snapshotFile, snapshotInterval, o, newItemsPerWindow, newItemsWindow, maxItems);
        }

        /** At most {@code perWindow} new items admitted per {@code window}. */
        public Options withNewItemLimit(int perWindow, Duration window) {
            return new Options(groupId, snapshotFile, snapshotInterval, learner, perWindow, window, maxItems);
        }

        /** The catalog grows to at most {@code max} items. */
        public Options withMaxItems(int max) {
            return new Options(groupId, snapshotFile, snapshotInterval, learner, newItemsPerWindow, newItemsWindow, max);
        }
    }

    /**
     * What training has done: events learned, steps, malformed records skipped, the prequential AUC of the recent
     * window (NaN before both labels), snapshots, and events not learned because their new item was over a limit
     * ({@link #itemsRefused()}).
     */
    public record Stats(long events, long steps, long skipped, double prequentialAuc, long snapshots, long itemsRefused) {
    }

    private final KafkaConsumer<byte[], byte[]> consumer;
    private final SequenceSource sequences;
    private final SequenceModel model;
    private final ItemCatalog catalog;
    private final OnlineLearner learner;
    private final Options options;
    private final Thread thread;
    private final CountDownLatch assigned = new CountDownLatch(1);
    private final float[] recentScores = new float[AUC_WINDOW];
    private final float[] recentLabels = new float[AUC_WINDOW];
    private int recentCount;
    private int recentNext;
    private long skipped;
    private long snapshots;
    /** The catalog's bound: the configured one, or the catalog's size when it started larger. */
    private final int itemCap;
    private long windowStart;
    private boolean windowOpen;
    private int newInWindow;
    private long refusedByRate;
    private long refusedByCap;
    private boolean capLogged;
    private volatile boolean closing;
    private volatile Throwable failure;

    /**
     * Starts training {@code model} (with {@code catalog}, the pair a recommender serves) from {@code topics}' events
     * on a thread of its own; behaviours before each event come from {@code sequences}.
     */
    public OnlineTraining(String bootstrapServers, EventTopics topics, SequenceSource sequences, SequenceModel model, ItemCatalog catalog,
                          Options options) {
        this(bootstrapServers, topics, sequences, model, catalog, options, Map.of());
    }

    /** The same, with a cluster's client settings ({@link KafkaClientProperties}). */
    public OnlineTraining(String bootstrapServers, EventTopics topics, SequenceSource sequences, SequenceModel model, ItemCatalog catalog,
                          Options options, Map<String, String> client) {
        this.sequences = sequences;
        this.model = model;
        this.catalog = catalog;
        this.options = options;
        this.learner = new OnlineLearner(model, catalog, options.learner());
        this.itemCap = Math.max(options.maxItems(), catalog.items());
        Properties p = KafkaClientProperties.base(client);
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, options.groupId());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "500");
        this.consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        consumer.subscribe(List.of(topics.events()), new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            }

            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                // the positions a new group starts from are fixed here, before any event is produced after this
                partitions.forEach(consumer::position);
                assigned.countDown();
            }
        });
        this.thread = new Thread(this::run, "attend-online-training");
        thread.setDaemon(true);
        thread.start();
    }

    /** Waits until the consumer has its partitions (events produced after this are learned); false on timeout. */
    public boolean awaitAssigned(Duration timeout) throws InterruptedException {
        return assigned.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** The learner (its options, events and steps). */
    public OnlineLearner learner() {
        return learner;
    }

    public synchronized Stats stats() {
        double auc = Double.NaN;
        if (recentCount > 0) {
            auc = Metrics.auc(Arrays.copyOf(recentScores, recentCount), Arrays.copyOf(recentLabels, recentCount));
        }
        return new Stats(learner.events(), learner.steps(), skipped, auc, snapshots, refusedByRate + refusedByCap);
    }

    /**
     * Events not learned because their item was new and over a limit ({@link Options#newItemsPerWindow} per
     * window, or {@link Options#maxItems}): a counter for metrics.
     */
    public synchronized long itemsRefused() {
        return refusedByRate + refusedByCap;
    }

    /** Of {@link #itemsRefused()}, those refused because the catalog reached {@link Options#maxItems}. */
    public synchronized long itemsRefusedAtCap() {
        return refusedByCap;
    }

    /** The most items the catalog may reach here (the configured cap, or the catalog's size when it started larger). */
    public int itemCap() {
        return itemCap;
    }

    /** Why the training thread stopped, or null while it runs (or after a clean close). */
    public Throwable failure() {
        return failure;
    }

    private void run() {
        long nextSnapshot = System.nanoTime() + options.snapshotInterval().toNanos();
        long sinceSnapshot = 0;
        try {
            while (!closing) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    sinceSnapshot += learn(r) ? 1 : 0;
                }
                if (sinceSnapshot > 0 && System.nanoTime() >= nextSnapshot) {
                    snapshot();
                    sinceSnapshot = 0;
                    nextSnapshot = System.nanoTime() + options.snapshotInterval().toNanos();
                }
            }
        } catch (IOException | RuntimeException e) {
            failure = e;
            LOG.error("Online training stopped: {}", e.toString(), e);
            return;
        }
        try {
            if (sinceSnapshot > 0) {
                snapshot();
            }
        } catch (IOException | RuntimeException e) {
            failure = e;
            LOG.error("The last online-training snapshot failed: {}", e.toString(), e);
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    /** Learns one record; false when it is malformed (skipped). */
    private boolean learn(ConsumerRecord<byte[], byte[]> r) {
        StreamEvent event;
        try {
            event = EventWire.read(r.key(), r.value());
        } catch (MalformedEventException e) {
            synchronized (this) {
                skipped++;
            }
            return false;
        }
        var b = event.behavior();
        if (catalog.itemIndex(b.item()) == 0 && !admitNewItem(b.item())) {
            return false; // not learned: a new item over its limit gets no rows
        }
        BehaviorSequence seq;
        try {
            seq = sequences.get(b.user());
        } catch (IllegalStateException e) {
            seq = BehaviorSequence.empty(b.user()); // the store is being restored or moved: learn without the history
        }
        // the behaviours before this one (the store may already hold it, or later ones), the most recent last
        int end = 0;
        while (end < seq.length() && seq.times()[end] < b.time()) {
            end++;
        }
        int from = Math.max(0, end - learner.options().historyLength());
        int[] items = new int[end - from];
        int[] categories = new int[end - from];
        for (int j = from; j < end; j++) {
            items[j - from] = catalog.itemIndex(seq.items()[j]);
            categories[j - from] = catalog.categoryIndex(seq.categories()[j]);
        }
        OnlineLearner.Outcome o = learner.observe(items, categories, b.item(), b.category());
        synchronized (this) {
            for (int x = 0; x < o.logits().length; x++) {
                recentScores[recentNext] = o.logits()[x];
                recentLabels[recentNext] = o.labels()[x];
                recentNext = (recentNext + 1) % AUC_WINDOW;
                recentCount = Math.min(AUC_WINDOW, recentCount + 1);
            }
        }
        return true;
    }

    /**
     * Whether a new item may get rows now (this thread is the only one that adds items): within the catalog's cap
     * and the window's limit; a refusal is counted, and logged once per window (and once at the cap).
     */
    private boolean admitNewItem(long itemId) {
        long now = System.nanoTime();
        if (!windowOpen || now - windowStart >= options.newItemsWindow().toNanos()) {
            windowOpen = true;
            windowStart = now;
            newInWindow = 0;
        }
        if (catalog.items() >= itemCap) {
            synchronized (this) {
                refusedByCap++;
            }
            if (!capLogged) {
                capLogged = true;
                LOG.warn("Online training learns no more new items: the catalog holds {} items, its cap;"
                        + " events on new items (item {} the first) are counted as refused", catalog.items(), itemId);
            }
            return false;
        }
        if (newInWindow >= options.newItemsPerWindow()) {
            synchronized (this) {
                refusedByRate++;
            }
            if (newInWindow == options.newItemsPerWindow()) {
                newInWindow++; // past the limit: logged once per window
                LOG.warn("Online training refuses new items until {} has passed: {} new items admitted in it (the limit); item {} and"
                        + " the rest are not learned", options.newItemsWindow(), options.newItemsPerWindow(), itemId);
            }
            return false;
        }
        newInWindow++;
        return true;
    }

    /** Saves the model and catalog, then commits the offsets of the events they hold. */
    private void snapshot() throws IOException {
        ModelFiles.save(model, catalog, options.snapshotFile());
        consumer.commitSync();
        synchronized (this) {
            snapshots++;
        }
    }

    /** Stops the thread after a last snapshot (and commit) of what it learned. */
    @Override
    public void close() {
        closing = true; // seen within a poll (200 ms); no wakeup, which would interrupt the last commit
        try {
            thread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
