// SIGINT / SIGTERM: the first asks for a clean stop (finish or roll back the open batch, commit,
// final feedback, CopyDone, close); the second exits at once. Still consistent then: an uncommitted
// DuckDB transaction is rolled back by DuckDB, and the server was told only what had committed.

export function stopSignal(): AbortSignal {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      process.stderr.write(`walduck: second ${sig}, exiting now\n`);
      process.exit(130);
    }
    process.stderr.write(`walduck: ${sig} received, stopping cleanly (again to exit at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}
