package dev.attend.server.cli;

import dev.attend.server.AttendVersion;
import dev.attend.server.ConfigException;
import io.javalin.util.JavalinBindException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.util.concurrent.Callable;
import picocli.AutoComplete;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/** The {@code attend} command. Each subcommand is its own class; this one only dispatches. */
@Command(
        name = "attend",
        mixinStandardHelpOptions = true,
        versionProvider = AttendCli.Version.class,
        description = "Attend: retrieval and recommendation attention engine.",
        subcommands = {DemoCommand.class, 
                // One line per subcommand, in the order `attend --help` should list them.
                ServeCommand.class,
                RecsysCommand.class,
                EventsCommand.class,
                SearchCommand.class,
                LmCommand.class,
                CommandLine.HelpCommand.class,
        })
public final class AttendCli implements Callable<Integer> {

    /** Exit status for a bad configuration or an unusable port: the user's to fix, no stack trace. */
    public static final int EXIT_CONFIG_ERROR = 1;

    @Spec
    CommandSpec spec;

    public static void main(String[] args) {
        System.exit(newCommandLine().execute(args));
    }

    public static CommandLine newCommandLine() {
        return newCommandLine(CommandLine.defaultFactory());
    }

    /** Tests pass a factory to give subcommands their environment and stop signal. */
    public static CommandLine newCommandLine(CommandLine.IFactory factory) {
        CommandLine cli = new CommandLine(new AttendCli(), factory);
        // `attend completion`: a bash/zsh completion script of every command and option (`source <(attend completion)`)
        cli.addSubcommand("completion", new AutoComplete.GenerateCompletion());
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            if (e instanceof ConfigException || e instanceof JavalinBindException) {
                commandLine.getErr().println("attend: " + e.getMessage());
                return EXIT_CONFIG_ERROR;
            }
            // A file that is missing or unreadable, an input the command refuses: the user's to fix, one line (the
            // stack trace with ATTEND_STACKTRACE=1).
            if (userError(e) && System.getenv("ATTEND_STACKTRACE") == null) {
                commandLine.getErr().println("attend: " + describe(e));
                return EXIT_CONFIG_ERROR;
            }
            throw e;
        });
        return cli;
    }

    private static boolean userError(Throwable e) {
        return e instanceof IOException || e instanceof UncheckedIOException || e instanceof IllegalArgumentException;
    }

    /** The message, naming the file for the JDK's file exceptions, whose message is only the path. */
    private static String describe(Throwable e) {
        Throwable t = e instanceof UncheckedIOException u && u.getCause() != null ? u.getCause() : e;
        String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        if (t instanceof NoSuchFileException) {
            return "no such file: " + m;
        }
        if (t instanceof AccessDeniedException) {
            return "permission denied: " + m;
        }
        return e instanceof UncheckedIOException && e.getMessage() != null && !e.getMessage().equals(m) ? e.getMessage() : m;
    }

    /** {@code attend} alone is a usage error (exit 2), like an unknown subcommand. */
    @Override
    public Integer call() {
        throw new ParameterException(spec.commandLine(), "Missing required subcommand");
    }

    public static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"attend " + AttendVersion.get()};
        }
    }
}
