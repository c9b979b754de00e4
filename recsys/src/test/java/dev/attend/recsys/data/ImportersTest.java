package dev.attend.recsys.data;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.gpu.SharedData;
import java.io.BufferedReader;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImportersTest {

    private static Path shared(String relative) {
        Optional<Path> dir = SharedData.resolve(relative);
        if (dir.isEmpty()) {
            System.out.println("skipped: ../shared/data/" + relative + " not found");
        }
        Assumptions.assumeTrue(dir.isPresent(), "../shared/data/" + relative + " not found");
        return dir.get();
    }

    @Test
    void taobaoRowsAreImportedAndMalformedOnesCountedByReason() throws Exception {
        String csv = """
                user,item,category,behavior,unix_time
                1,10,100,pv,1511848894
                1,11,100,buy,1511848900

                2,10,100,cart,1511848000
                2,10,100,click,1511848001
                2,x,100,pv,1511848002
                3,12,101,fav
                3,12,101,fav,-5
                3,12,101,fav,1511849000
                """;
        Imported imported = TaobaoImporter.read(new BufferedReader(new StringReader(csv)), "inline");
        ImportReport r = imported.report();
        assertThat(imported.events()).hasSize(4);
        assertThat(imported.events().get(0)).isEqualTo(new BehaviorEvent(1, 10, 100, "pv", 1511848894));
        assertThat(r.rows()).isEqualTo(8);
        assertThat(r.kept()).isEqualTo(4);
        assertThat(r.skipped()).containsEntry("unknown behavior", 1L).containsEntry("expected 5 fields", 1L)
                .containsEntry("user, item or category is not a non-negative integer", 1L)
                .containsEntry("time is not a non-negative integer", 1L);
        assertThat(r.examples("unknown behavior")).containsExactly(6L);
        assertThat(r.toString()).contains("skipped 4");
    }

    @Test
    void theSharedTaobaoSampleImportsWhole() throws Exception {
        Imported imported = TaobaoImporter.read(shared("recsys/taobao-sample").resolve("UserBehavior.csv"));
        assertThat(imported.report().rows()).isEqualTo(10_000);
        assertThat(imported.report().skippedTotal()).isZero();
        UserSequences s = UserSequences.of(imported.events());
        assertThat(s.users()).isEqualTo(114);
        assertThat(s.events()).isEqualTo(10_000);
    }

    @Test
    void movieLens100kUsesTheFirstGenreAsCategory() throws Exception {
        Path dir = shared("recsys/ml-100k");
        Imported imported = MovieLensImporter.read(dir);
        assertThat(imported.report().rows()).isEqualTo(100_000);
        assertThat(imported.report().skippedTotal()).isZero();
        UserSequences s = UserSequences.of(imported.events());
        assertThat(s.users()).isEqualTo(943);
        assertThat(s.items()).isEqualTo(1682);
        for (int u = 0; u < s.users(); u++) {
            assertThat(s.itemsOf(u).length).isGreaterThanOrEqualTo(20);
        }
        // Toy Story (1): Animation (flag 3) is its first genre.
        BehaviorEvent toyStory = imported.events().stream().filter(e -> e.item() == 1).findFirst().orElseThrow();
        assertThat(toyStory.category()).isEqualTo(3);
        assertThat(toyStory.action()).isEqualTo("rate");
    }

    @Test
    void movieLensLayoutsReportUnknownItemsAndBadRows(@TempDir Path dir) throws Exception {
        Path small = Files.createDirectories(dir.resolve("100k"));
        String flags = "|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0";
        Files.writeString(small.resolve("u.item"), "1|A (1995)|01-Jan-1995||http://x" + flags + "\n"
                + "2|B (1995)|01-Jan-1995||http://y|0|0|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0\n", StandardCharsets.ISO_8859_1);
        Files.writeString(small.resolve("u.data"), "1\t1\t5\t100\n1\t2\t3\t200\n2\t9\t4\t300\n2\t1\t4\n", StandardCharsets.ISO_8859_1);
        Imported a = MovieLensImporter.read(small);
        assertThat(a.events()).extracting(BehaviorEvent::category).containsExactly(2L, 8L);
        assertThat(a.report().skipped()).containsEntry("unknown item", 1L).containsEntry("expected 4 tab-separated fields", 1L);

        Path latest = Files.createDirectories(dir.resolve("latest"));
        Files.writeString(latest.resolve("movies.csv"), """
                movieId,title,genres
                1,"Toy Story, The (1995)",Adventure|Animation
                2,Heat (1995),Action|Crime|Thriller
                3,"Unclosed (1995),Drama
                """);
        Files.writeString(latest.resolve("ratings.csv"), """
                userId,movieId,rating,timestamp
                1,1,4.0,964982703
                1,2,x,964982704
                1,2,3.5,964982705
                2,3,5.0,964982706
                """);
        Imported b = MovieLensImporter.read(latest);
        assertThat(b.events()).extracting(BehaviorEvent::item).containsExactly(1L, 2L);
        assertThat(b.events()).extracting(BehaviorEvent::category).containsExactly(0L, 1L); // Adventure, then Action
        assertThat(b.report().skipped()).containsEntry("rating is not a number", 1L).containsEntry("unknown item", 1L);
    }
}
