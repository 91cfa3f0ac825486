// Beside shown-name.ts: wording both the source and the sink put in their lines (the one room below both).
// When a start says a change it finds in the source catalog was made. It compares the catalog with
// what the replica recorded at its last DuckDB commit, so it knows only that the change came after that
// commit: while walduck was stopped, or in a run that saw it and ended (kill -9, a crash, a lost
// machine) before committing what it had decided. Saying "while walduck was stopped" was false in the
// second case, and sent the operator looking for something done during a stop.

/** After the replica's last commit: while walduck was stopped, or in a run that ended before its next one. */
export const SINCE_LAST_COMMIT =
  "since the replica's last commit (while walduck was stopped, or in a run that ended before its next commit)";
