package dev.attend.bench;

import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.library.Architectures.LayeredArchitecture;
import com.tngtech.archunit.library.dependencies.SliceRule;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

/**
 * The package graph of the engine's main code: no package cycles, and module dependencies that flow one way, as the
 * poms declare them. Here because bench depends on every module, so one import sees all of their classes.
 */
class ArchitectureTest {

    private static JavaClasses main;

    @BeforeAll
    static void importMainClasses() {
        main = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS).importPackages("dev.attend");
    }

    @Test
    void packagesAreFreeOfCycles() {
        SliceRule rule = slices().matching("dev.attend.(**)").should().beFreeOfCycles();
        List<String> cycles = rule.evaluate(main).getFailureReport().getDetails().stream()
                .map(d -> d.lines().takeWhile(l -> !l.startsWith("  1. ")).map(String::strip).collect(Collectors.joining(" ")))
                .toList();
        System.out.println(cycles.isEmpty() ? "No package cycles." : "Package cycles:\n  " + String.join("\n  ", cycles));
        rule.check(main);
    }

    /** Module {@code m}'s packages ({@code dev.attend.m..}) use only the packages of the modules its pom reaches. */
    @Test
    void modulesDependOneWayAsThePomsSay() throws Exception {
        Map<String, Set<String>> reaches = reachableModules(projectRoot());
        assertThat(reaches).as("modules read from the poms").containsKeys("gpu", "index", "server", "bench");
        System.out.println("Module dependencies from the poms (each module and the modules it may use): " + reaches);
        LayeredArchitecture layers = layeredArchitecture().consideringOnlyDependenciesInLayers();
        for (String module : reaches.keySet()) {
            layers = layers.layer(module).definedBy("dev.attend." + module + "..");
        }
        for (String module : reaches.keySet()) {
            List<String> users = new ArrayList<>();
            reaches.forEach((user, used) -> {
                if (!user.equals(module) && used.contains(module)) {
                    users.add(user);
                }
            });
            layers = users.isEmpty() ? layers.whereLayer(module).mayNotBeAccessedByAnyLayer()
                    : layers.whereLayer(module).mayOnlyBeAccessedByLayers(users.toArray(String[]::new));
        }
        layers.check(main);
    }

    /** The reactor's root: the test runs in the bench module's folder. */
    private static Path projectRoot() {
        Path root = Path.of("").toAbsolutePath().getParent();
        assertThat(root.resolve("pom.xml")).as("the reactor's pom beside bench/").exists();
        return root;
    }

    /** Each module (by folder, in the reactor's order) and the modules it depends on, directly or not (test scope aside). */
    private static Map<String, Set<String>> reachableModules(Path root) throws Exception {
        Map<String, String> moduleOfArtifact = new LinkedHashMap<>();
        Map<String, List<String>> direct = new LinkedHashMap<>();
        for (Element module : children(child(parse(root.resolve("pom.xml")), "modules"), "module")) {
            String name = module.getTextContent().strip();
            Element project = parse(root.resolve(name).resolve("pom.xml"));
            moduleOfArtifact.put(text(project, "artifactId"), name);
            List<String> artifacts = new ArrayList<>();
            for (Element dependency : children(child(project, "dependencies"), "dependency")) {
                if ("dev.attend".equals(text(dependency, "groupId")) && !"test".equals(text(dependency, "scope"))) {
                    artifacts.add(text(dependency, "artifactId"));
                }
            }
            direct.put(name, artifacts);
        }
        Map<String, Set<String>> reaches = new LinkedHashMap<>();
        for (String module : direct.keySet()) {
            Set<String> seen = new LinkedHashSet<>();
            List<String> todo = new ArrayList<>(List.of(module));
            while (!todo.isEmpty()) {
                for (String artifact : direct.get(todo.removeLast())) {
                    String used = moduleOfArtifact.get(artifact);
                    if (seen.add(used)) {
                        todo.add(used);
                    }
                }
            }
            reaches.put(module, seen);
        }
        return reaches;
    }

    private static Element parse(Path pom) throws Exception {
        assertThat(Files.exists(pom)).as("%s exists", pom).isTrue();
        Document doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(pom.toFile());
        return doc.getDocumentElement();
    }

    /** The direct child element named {@code name}, or null. */
    private static Element child(Element parent, String name) {
        List<Element> all = children(parent, name);
        return all.isEmpty() ? null : all.getFirst();
    }

    private static List<Element> children(Element parent, String name) {
        List<Element> out = new ArrayList<>();
        if (parent != null) {
            for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
                if (n instanceof Element e && e.getTagName().equals(name)) {
                    out.add(e);
                }
            }
        }
        return out;
    }

    private static String text(Element parent, String name) {
        Element e = child(parent, name);
        return e == null ? null : e.getTextContent().strip();
    }
}
