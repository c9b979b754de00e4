package dev.attend.bench;

import java.io.PrintStream;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * What every bench command shares: {@code -h}/{@code --help}, the streams it writes to (the caller's, so that tests
 * read them), and usage errors: an IllegalArgumentException while its options are read is one (exit status 2, with
 * the usage).
 */
abstract class BenchCommand implements Callable<Integer> {

    @Mixin
    HelpOption help;

    @Spec
    CommandSpec spec;

    final PrintStream out;
    final PrintStream err;

    BenchCommand(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    /** Parses {@code args} into this command and runs it; returns the exit status. */
    final int execute(String[] args) {
        return BenchCli.execute(this, args, out, err);
    }

    /** What {@code read} returns; its IllegalArgumentException is a usage error. */
    final <T> T checked(Supplier<T> read) {
        try {
            return read.get();
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    /** Runs {@code check}; its IllegalArgumentException is a usage error. */
    final void check(Runnable check) {
        checked(() -> {
            check.run();
            return null;
        });
    }
}
