package dev.attend.server.cli;

import dev.attend.gpu.SharedData;
import dev.attend.lm.ByteLm;
import dev.attend.lm.LayerAttention;
import dev.attend.lm.LmEval;
import dev.attend.lm.SessionAttention;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeoutException;

/**
 * The demo's language-model step: bytelm-gqa prefills the start of one of its shared documents, then decodes the next
 * bytes teacher-forced through a KV session under full attention, streaming and the automatic head policy (bits per
 * byte, the share of streaming's gap to full that auto recovers, keys scanned, time per byte), and last continues the
 * document from auto's session, printing the bytes as they come. Shorter than {@code attend lm eval}'s protocol so
 * that the whole demo stays quick on two cores.
 */
final class LmDemo {

    /** One where long context matters at this short prefill: full attention beats streaming by 0.3 bits per byte here. */
    static final String DOCUMENT = "doc04.txt";
    static final int PREFILL = 4_096;
    static final int DECODE = 256;
    static final int GENERATE = 100;
    /** {@code attend lm generate}'s defaults. */
    static final double TEMPERATURE = 0.8;
    static final long SEED = 1;

    private LmDemo() {
    }

    static void run(PrintStream out) throws Exception {
        run(out, SharedData.resolve("models/bytelm-gqa"), DOCUMENT, PREFILL, DECODE, GENERATE);
    }

    /** The step on the model at {@code model}, or one line saying why it is skipped when that is empty. */
    static void run(PrintStream out, Optional<Path> model, String document, int prefill, int decode, int generate) throws Exception {
        if (model.isEmpty()) {
            out.println("== Language model decoding through Attend: skipped (no ../shared/data/models/bytelm-gqa here)");
            out.println();
            return;
        }
        Path dir = model.get();
        LmEval.Options o = LmEval.Options.defaults(dir).withLengths(prefill, decode);
        byte[] doc = Files.readAllBytes(o.documentsDir().resolve(document));
        if (doc.length < prefill + decode) {
            throw new IllegalArgumentException(document + " holds " + doc.length + " bytes, fewer than prefill + decode = " + (prefill + decode));
        }
        ByteLm lm = ByteLm.load(dir);
        out.printf(Locale.ROOT, "== Language model decoding through Attend: %s (%d layers, %d query heads on %d KV heads) on %s%n",
                lm.config().name(), lm.config().layers(), lm.config().heads(), lm.config().kvHeads(), o.documentsDir().resolve(document));
        out.printf(Locale.ROOT, "  bytes 0-%,d prefilled, the next %,d decoded teacher-forced through a KV session (sinks %d, window %d, top-%d)%n",
                prefill - 1, decode, o.sinks(), o.window(), o.topK());
        out.printf(Locale.ROOT, "  (a short setting; the full measurement, prefill 30,720 and decode 2,048 on every document: "
                + "./attend lm eval --model %s --policy full,streaming,retrieval,auto)%n", dir);
        out.printf(Locale.ROOT, "  prefilling %,d bytes with full attention (the model, in Java) ...%n", prefill);
        long t0 = System.nanoTime();
        ByteLm.Prefill p = lm.prefill(doc, prefill, false);
        out.printf(Locale.ROOT, "  prefill done in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        out.printf(Locale.ROOT, "  %-10s %10s %28s %24s%n", "policy", "bits/byte", "keys scanned per attend", "decode ms/byte (median)");
        double full = decodeOne(lm, p, doc, "full", o, out, null);
        double streaming = decodeOne(lm, p, doc, "streaming", o, out, null);
        try (SessionAttention auto = open(lm, p, "auto", o, out)) {
            double bits = decodeOne(lm, p, doc, "auto", o, out, auto);
            double gap = streaming - full;
            out.printf(Locale.ROOT, "  %s; its heads chose %s%n", gap > 1e-3
                    ? String.format(Locale.ROOT, "auto recovers %.1f%% of streaming's gap to full attention (%.4f bits per byte)", 100 * (streaming - bits) / gap, gap)
                    : String.format(Locale.ROOT, "streaming is as good as full attention here (gap %.4f bits per byte): nothing for auto to recover", gap),
                    choices(auto));
            continueDocument(lm, doc, prefill + decode, generate, auto, out);
        }
        out.println();
    }

    /** A session under {@code policy} holding the prefill, every head ready; progress every few seconds while indexes build. */
    private static SessionAttention open(ByteLm lm, ByteLm.Prefill p, String policy, LmEval.Options o, PrintStream out) throws InterruptedException {
        SessionAttention s = new SessionAttention(lm.config(), policy, o.topK(), 0, o.sinks(), o.window(), o.buildThreads());
        long t0 = System.nanoTime();
        try {
            s.prefill(p);
            if (!policy.equals("full") && !policy.equals("streaming")) {
                out.printf(Locale.ROOT, "  %s: choosing each KV head's policy from its prefill, building the indexes of those that retrieve ...%n", policy);
            }
            long deadline = System.nanoTime() + o.readyTimeoutSeconds() * 1_000_000_000L;
            while (true) {
                try {
                    s.awaitReady(5_000);
                    break;
                } catch (TimeoutException e) {
                    if (System.nanoTime() > deadline) {
                        throw e;
                    }
                    out.printf(Locale.ROOT, "    %.0f s: %d of %d KV heads ready%n", (System.nanoTime() - t0) / 1e9, ready(s), s.policies().size());
                }
            }
        } catch (TimeoutException | RuntimeException e) {
            s.close();
            throw new IllegalStateException(policy + ": " + e.getMessage(), e);
        }
        if (!policy.equals("full") && !policy.equals("streaming")) {
            out.printf(Locale.ROOT, "    session prefilled and every head ready in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        }
        return s;
    }

    /**
     * Bits per byte of the teacher-forced decode under {@code policy}, its row printed; through {@code session} when given
     * (left open), else a session of its own.
     */
    private static double decodeOne(ByteLm lm, ByteLm.Prefill p, byte[] doc, String policy, LmEval.Options o, PrintStream out,
                                    SessionAttention session) throws InterruptedException {
        SessionAttention s = session != null ? session : open(lm, p, policy, o, out);
        try {
            LmEval.Decoded d = LmEval.teacherForced(lm, p, doc, o.prefill(), o.decode(), s);
            double keys = s.meanKeysScanned();
            double context = o.prefill() + (o.decode() - 1) / 2.0; // mean keys a full attend sees
            out.printf(Locale.ROOT, "  %-10s %10.4f %18s (%5.1f%%) %24.2f%n", policy, d.bitsPerByte(), String.format(Locale.ROOT, "%,.0f", keys),
                    100 * keys / context, d.msPerByte(0.5));
            return d.bitsPerByte();
        } finally {
            if (session == null) {
                s.close();
            }
        }
    }

    /** Feeds the document's byte {@code from - 1}, then samples {@code bytes} more through {@code attention}, printed as they come. */
    private static void continueDocument(ByteLm lm, byte[] doc, int from, int bytes, LayerAttention attention, PrintStream out) {
        if (bytes < 1) {
            return;
        }
        int start = from - 1;
        for (int i = Math.max(0, from - 200); i < from - 1; i++) {
            start = doc[i] == '\n' ? i + 1 : start;
        }
        out.printf(Locale.ROOT, "  the document's bytes up to %,d continued under auto (temperature %.1f, seed %d); its last line, then after ▌ %d generated bytes:%n",
                from, TEMPERATURE, SEED, bytes);
        out.println("  ----");
        out.write(doc, start, from - start);
        out.print("▌");
        out.flush();
        float[] logits = lm.decode(doc[from - 1] & 0xff, from - 1, attention);
        SplittableRandom rnd = new SplittableRandom(SEED);
        long t0 = System.nanoTime();
        for (int i = 0; i < bytes; i++) {
            int next = ByteLm.sample(logits, TEMPERATURE, rnd);
            out.write(next);
            out.flush();
            logits = lm.decode(next, from + i, attention);
        }
        double ms = (System.nanoTime() - t0) / 1e6 / bytes;
        out.println();
        out.println("  ----");
        out.printf(Locale.ROOT, "  %d bytes generated, %.1f ms per byte (sampling and every layer through the KV session)%n", bytes, ms);
    }

    private static int ready(SessionAttention s) {
        int n = 0;
        for (int l = 0; l < s.session().config().layers(); l++) {
            for (int g = 0; g < s.session().config().kvHeads(); g++) {
                n += s.session().indexState(l, g).state().equals("ready") ? 1 : 0;
            }
        }
        return n;
    }

    /** "retrieval+tail x9, streaming x2, ..." over the KV heads. */
    private static String choices(SessionAttention s) {
        Map<String, Integer> n = new TreeMap<>();
        for (String policy : s.policies().values()) {
            n.merge(policy, 1, Integer::sum);
        }
        StringBuilder b = new StringBuilder();
        n.entrySet().stream().sorted((a, c) -> c.getValue() - a.getValue())
                .forEach(e -> b.append(b.isEmpty() ? "" : ", ").append(e.getKey()).append(" x").append(e.getValue()));
        return b + " of " + s.policies().size() + " KV heads";
    }
}
