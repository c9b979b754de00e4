package dev.attend.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code jmh [jmh args]}: every argument, options included ({@code -h} too), goes to {@code org.openjdk.jmh.Main} through
 * {@link JmhLauncher}, which only this command loads, so that a class path without JMH runs the other benches.
 */
@Command(name = "jmh", description = "JMH micro-benchmarks (dev.attend.bench.jmh); arguments go to org.openjdk.jmh.Main "
        + "(-h for its options), forked JVMs getting the flags of conf/jvm.options.")
final class JmhCommand implements Callable<Integer> {

    @Parameters(paramLabel = "JMH_ARGS", description = "Arguments of org.openjdk.jmh.Main.")
    List<String> args = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        JmhLauncher.run(args.toArray(String[]::new));
        return 0;
    }
}
