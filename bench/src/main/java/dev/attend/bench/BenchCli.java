package dev.attend.bench;

import java.io.PrintStream;
import java.io.PrintWriter;
import picocli.CommandLine;

/**
 * How every bench command line is parsed (picocli): help and errors on the caller's streams, a bad option or value is
 * an error with the usage and exit status 2, an option given twice keeps its last value, and arguments are taken as
 * they are ({@code @file} arguments are not expanded).
 */
final class BenchCli {

    /** Usage lines as wide as the benches' option descriptions were written for. */
    static final int USAGE_WIDTH = 120;

    private BenchCli() {
    }

    /** Parses {@code args} into {@code command} and runs it; returns the exit status. */
    static int execute(Object command, String[] args, PrintStream out, PrintStream err) {
        return commandLine(command, out, err).execute(args);
    }

    static CommandLine commandLine(Object command, PrintStream out, PrintStream err) {
        CommandLine cli = new CommandLine(command);
        configure(cli, out, err);
        return cli;
    }

    /** Settings for {@code cli} and the subcommands it has now. */
    static void configure(CommandLine cli, PrintStream out, PrintStream err) {
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        cli.setOverwrittenOptionsAllowed(true);
        cli.setExpandAtFiles(false);
        cli.setUsageHelpWidth(USAGE_WIDTH);
    }
}
