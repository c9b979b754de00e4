/**
 * The HTTP endpoints of hybrid document search: {@link dev.attend.server.search.SearchRoutes} indexes documents and
 * answers queries (BM25, dense and their fusions, each hit with its components' scores) over one search-module
 * {@code DocumentSearch} under the data directory. Registered on the {@code dev.attend.server} server by
 * {@code attend serve}.
 */
package dev.attend.server.search;
