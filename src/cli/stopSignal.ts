/** Resolves on the first SIGINT or SIGTERM after running `close`: for commands that serve until stopped. */
export function serveUntilStopped(close: () => Promise<void>): Promise<void> {
  return new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      close().then(done, done);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/**
 * An AbortSignal for the first SIGINT or SIGTERM, for commands that stop cleanly between steps
 * and report what they did; a second Ctrl-C ends the process at once.
 * The listener stays registered until dispose (no `once`): execa's child cleanup (signal-exit)
 * re-raises a signal it finds no other listener for, which killed lrt before its summary.
 */
export function stopOnSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const dispose = () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  };
  function stop(name: NodeJS.Signals) {
    if (!controller.signal.aborted) return controller.abort();
    dispose();
    process.kill(process.pid, name);
  }
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return { signal: controller.signal, dispose };
}
