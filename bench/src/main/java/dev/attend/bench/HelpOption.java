package dev.attend.bench;

import picocli.CommandLine.Option;

/** {@code -h}/{@code --help} of every bench command (no {@code --version}: the scorer runs without the server's). */
final class HelpOption {

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;
}
