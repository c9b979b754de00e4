package dev.attend.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attend.recsys.data.BehaviorEvent;
import dev.attend.recsys.data.ItemCatalog;
import dev.attend.recsys.data.UserSequences;
import dev.attend.recsys.model.ModelConfig;
import dev.attend.recsys.model.ModelFiles;
import dev.attend.recsys.model.SequenceModel;
import java.io.File;
import java.net.http.HttpRequest.BodyPublishers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The web console in a real headless Chromium (Debian's {@code chromium} and {@code chromium-driver}, which
 * {@code .ci/run} installs), page by page against a full server: a search shows hits with their BM25 and dense
 * components; a user's recommendations, and for one of them the behaviours its search kept with their weights;
 * a KV session's state. Skipped, saying so, where no Chromium is installed.
 */
class ConsoleBrowserTest {

    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");

    @TempDir
    Path dir;

    @Test
    void eachPageShowsWhatTheApiAnswers() throws Exception {
        if (!Files.isExecutable(CHROMIUM) || !Files.isExecutable(CHROMEDRIVER)) {
            System.out.println("skipped: no " + CHROMIUM + " and " + CHROMEDRIVER + " (apt-get install chromium chromium-driver)");
        }
        Assumptions.assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER), "chromium and chromium-driver are not installed");
        List<BehaviorEvent> training = new ArrayList<>();
        for (int u = 0; u < 10; u++) {
            for (int j = 0; j < 20; j++) {
                long item = 500 + (u * 7 + j * 3) % 60;
                training.add(new BehaviorEvent(u, item, item % 5, "pv", 1000 + j));
            }
        }
        ItemCatalog catalog = UserSequences.of(training).catalog();
        SequenceModel model = new SequenceModel(new ModelConfig(ModelConfig.Kind.DARE, 4, 8, 3, new int[] {8}), catalog.items(),
                catalog.categories(), 2);
        ModelFiles.save(model, catalog, dir.resolve("model.bin"));
        try (FullServer full = new FullServer(dir, dir.resolve("model.bin"), c -> c)) {
            AttendServer server = full.server;
            WebDriver browser = null;
            try {
                post(server, "/v1/search/documents", "{\"documents\":[{\"id\":\"d1\",\"title\":\"Thesaurus construction\",\"text\":\"building a thesaurus for indexing\"},"
                        + "{\"id\":\"d2\",\"title\":\"Citation analysis\",\"text\":\"counting citations between journals\"}]}");
                StringBuilder events = new StringBuilder("{\"events\":[");
                for (int j = 0; j < 20; j++) {
                    long item = 500 + (j * 3) % 60;
                    events.append(j == 0 ? "" : ",").append("{\"user\":42,\"item\":").append(item).append(",\"category\":").append(item % 5)
                            .append(",\"time\":").append(2000 + j).append('}');
                }
                post(server, "/v1/recsys/events", events.append("]}").toString());
                post(server, "/v1/kv/sessions", "{\"id\":\"demo-session\",\"layers\":1,\"kvHeads\":1,\"headDim\":4}");
                post(server, "/v1/kv/sessions/demo-session/prefill", "{\"layer\":0,\"kvHead\":0,\"from\":0,\"keys\":[[1,0,0,0],[0,1,0,0],[0,0,1,0]],"
                        + "\"values\":[[1,2,3,4],[5,6,7,8],[9,10,11,12]]}");
                post(server, "/v1/kv/sessions/demo-session/attend", "{\"layer\":0,\"queries\":[{\"queryHead\":0,\"query\":[0.5,0.1,0,0]}]}");

                ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM.toFile())
                        .addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900");
                ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(new File(CHROMEDRIVER.toString()))
                        .usingAnyFreePort().build();
                browser = new ChromeDriver(service, options);
                WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(30));

                // search
                browser.get(server.url() + "/#search");
                wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("search-index"), "2 documents"));
                browser.findElement(By.id("search-query")).sendKeys("thesaurus");
                browser.findElement(By.id("search-go")).click();
                wait.until(d -> !d.findElements(By.cssSelector("#search-hits tbody tr")).isEmpty());
                List<WebElement> first = browser.findElements(By.cssSelector("#search-hits tbody tr")).getFirst().findElements(By.tagName("td"));
                assertThat(first.get(1).getText()).startsWith("d1").contains("Thesaurus");
                assertThat(first.get(3).getText()).as("BM25 component").startsWith("#1");
                assertThat(first.get(4).getText()).as("dense component").startsWith("#");

                // recommendations and why
                browser.findElement(By.id("tab-recsys")).click();
                wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("recsys-model"), "DARE"));
                browser.findElement(By.id("recsys-user")).sendKeys("42");
                browser.findElement(By.id("recsys-go")).click();
                wait.until(d -> d.findElements(By.cssSelector("#recsys-items tbody tr")).size() == 10);
                wait.until(d -> !d.findElements(By.cssSelector("#recsys-sequence tbody tr")).isEmpty());
                browser.findElements(By.cssSelector("#recsys-items button.why")).getFirst().click();
                wait.until(d -> !d.findElements(By.cssSelector("#recsys-why tbody tr")).isEmpty());
                double total = 0;
                for (WebElement tr : browser.findElements(By.cssSelector("#recsys-why tbody tr"))) {
                    total += Double.parseDouble(tr.findElements(By.tagName("td")).get(4).getText());
                }
                assertThat(total).as("the kept behaviours' weights").isCloseTo(1.0, Offset.offset(0.01));

                // KV sessions: the list, one session's state, and its recent answers checked against full attention
                browser.findElement(By.id("tab-kv")).click();
                wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("kv-sessions"), "demo-session"));
                browser.findElements(By.cssSelector("#kv-sessions tbody button")).getFirst().click();
                wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("kv-session"), "headDim"));
                assertThat(browser.findElement(By.id("kv-id")).getAttribute("value")).isEqualTo("demo-session");
                browser.findElement(By.id("kv-check")).click();
                wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("kv-accuracy-summary"), "1 queries of layer 0"));
                List<WebElement> check = browser.findElements(By.cssSelector("#kv-accuracy tbody tr")).getFirst().findElements(By.tagName("td"));
                assertThat(check.get(1).getText()).isEqualTo("flat"); // three tokens: no index, every key attended
                assertThat(Double.parseDouble(check.get(2).getText())).as("relative error").isZero();
                assertThat(browser.findElement(By.id("error")).getText()).isEmpty();

                // an unknown session: the API's error, shown
                browser.findElement(By.id("kv-id")).clear();
                browser.findElement(By.id("kv-id")).sendKeys("nope");
                browser.findElement(By.id("kv-go")).click();
                wait.until(ExpectedConditions.textToBePresentInElementLocated(By.id("error"), "not_found"));
            } finally {
                if (browser != null) {
                    browser.quit();
                }
            }
        }
    }

    private static void post(AttendServer server, String path, String json) {
        var r = TestHttp.post(server, path, BodyPublishers.ofString(json));
        assertThat(r.statusCode()).as(path + " -> " + r.body()).isBetween(200, 299);
    }
}
