/**
 * The {@code attend} command (picocli): {@link dev.attend.server.cli.AttendCli} dispatches to its subcommands,
 * {@link dev.attend.server.cli.ServeCommand} ({@code attend serve}: the server with every module's routes),
 * {@link dev.attend.server.cli.DemoCommand} (the demo on embedded defaults, in steps such as
 * {@link dev.attend.server.cli.SearchDemo} and {@link dev.attend.server.cli.RecommendationDemo}),
 * {@link dev.attend.server.cli.LmCommand}, {@link dev.attend.server.cli.RecsysCommand},
 * {@link dev.attend.server.cli.SearchCommand} and {@link dev.attend.server.cli.EventsCommand}. It wires together the
 * server package, its route packages and the lm, retrieval, recsys and streaming modules.
 */
package dev.attend.server.cli;
