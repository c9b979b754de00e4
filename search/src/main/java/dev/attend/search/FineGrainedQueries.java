package dev.attend.search;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The fine-grained queries of LexSemBridge's tasks, generated from a corpus without labels, each with the one
 * passage it came from as its answer:
 * <ul>
 *   <li><b>keyword</b>: the passage's most salient words (highest TF-IDF of their analysed form, in the corpus'
 *       document frequencies), a few of them, in the passage's own spelling;</li>
 *   <li><b>part of passage</b>: a contiguous span of 16 to 64 words of the passage.</li>
 * </ul>
 * Seeded: the same corpus and seed give the same queries.
 */
public final class FineGrainedQueries {

    /** A generated query and the id of the passage it came from. */
    public record Generated(String text, String passageId) {
    }

    /** Words as the passage spells them. */
    private static final Pattern WORD = Pattern.compile("[\\p{L}\\p{N}]+");

    public static final int KEYWORDS = 3;
    public static final int SPAN_MIN_WORDS = 16;
    public static final int SPAN_MAX_WORDS = 64;

    /** Turns a word into the term BM25 indexes (null for a stop word). */
    public interface Analyzer {
        String term(String word);
    }

    private FineGrainedQueries() {
    }

    /**
     * A keyword query for {@code passage}: its {@value #KEYWORDS} words of highest TF-IDF (terms in fewer than two
     * documents are left out: a word only this passage has is an identifier, not a keyword a user would type),
     * or null when it has fewer such words.
     */
    public static Generated keyword(Document passage, Analyzer analyzer, Vocabulary vocabulary) {
        Map<String, String> spelling = new LinkedHashMap<>();
        Map<String, Integer> tf = new HashMap<>();
        for (String word : words(passage.content())) {
            String term = analyzer.term(word);
            if (term == null) {
                continue;
            }
            int id = vocabulary.id(term);
            if (id < 0 || vocabulary.documentFrequency(id) < 2) {
                continue;
            }
            spelling.putIfAbsent(term, word.toLowerCase(Locale.ROOT));
            tf.merge(term, 1, Integer::sum);
        }
        if (tf.size() < KEYWORDS) {
            return null;
        }
        List<String> terms = new ArrayList<>(tf.keySet());
        terms.sort(Comparator.comparingDouble((String t) -> -tf.get(t) * vocabulary.idf(vocabulary.id(t))).thenComparing(t -> t));
        StringBuilder q = new StringBuilder();
        for (String t : terms.subList(0, KEYWORDS)) {
            q.append(q.isEmpty() ? "" : " ").append(spelling.get(t));
        }
        return new Generated(q.toString(), passage.id());
    }

    /** A span of {@value #SPAN_MIN_WORDS} to {@value #SPAN_MAX_WORDS} consecutive words, or null for a shorter passage. */
    public static Generated span(Document passage, SplittableRandom rnd) {
        List<String> words = words(passage.content());
        if (words.size() < SPAN_MIN_WORDS) {
            return null;
        }
        int length = SPAN_MIN_WORDS + rnd.nextInt(Math.min(SPAN_MAX_WORDS, words.size()) - SPAN_MIN_WORDS + 1);
        int start = rnd.nextInt(words.size() - length + 1);
        return new Generated(String.join(" ", words.subList(start, start + length)), passage.id());
    }

    static List<String> words(String text) {
        List<String> out = new ArrayList<>();
        Matcher m = WORD.matcher(text);
        while (m.find()) {
            out.add(m.group());
        }
        return out;
    }
}
