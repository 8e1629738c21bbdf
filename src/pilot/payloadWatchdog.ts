import { execa } from 'execa';

/*
 * A payload must not outlive its pilot. When the pilot dies (kill -9, the OOM killer), its lease
 * runs out and another pilot runs the token again; an orphaned payload would go on and finish as
 * well. Node cannot ask Linux to signal a child when its parent dies (PR_SET_PDEATHSIG), so a
 * small bash process, started next to the payload and holding the read end of a pipe from the
 * pilot, does it: when the pilot dies the kernel closes the write end, the watchdog reads end of
 * file and stops the payload's process group (TERM, grace, KILL). When the payload is over, the
 * pilot writes a line and the watchdog exits without touching anything.
 *
 * It is a sibling of the payload, not its parent, so the payload's exit code and signal reach
 * the pilot unchanged, and it sits in a session of its own, so signals meant for the pilot's
 * process group (or terminal) do not take it along.
 */
const WATCHDOG_SCRIPT = `pgid=$1 grace=$2
read -r _ && exit 0
kill -TERM -- "-$pgid" 2>/dev/null || exit 0
sleep "$grace"
kill -KILL -- "-$pgid" 2>/dev/null
exit 0`;

export interface PayloadWatchdog {
  /** The payload is over: the watchdog leaves its group alone and exits. */
  release(): Promise<void>;
}

/** Watches over process group `pgid` until released; stops it if this process dies first. */
export function watchPayloadGroup(pgid: number, graceMs: number): PayloadWatchdog {
  const watchdog = execa(
    'bash',
    // --norc: with a socket on stdin (node's pipes are socketpairs) bash believes rshd started it
    // and would run ~/.bashrc first.
    ['--norc', '-c', WATCHDOG_SCRIPT, 'lrt-payload-watchdog', String(pgid), (graceMs / 1000).toFixed(3)],
    {
      stdin: 'pipe',
      stdout: 'ignore',
      stderr: 'ignore',
      detached: true,
      // Nothing of the pilot's environment (credentials) is needed: bash, kill, sleep.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      extendEnv: false,
      // It must outlive this process when this process dies: execa's cleanup would kill it.
      cleanup: false,
      reject: false,
    },
  );
  // A watchdog that is already gone cannot be told anything: nothing to report.
  watchdog.stdin?.on('error', () => {});
  return {
    async release() {
      watchdog.stdin?.end('done\n');
      await watchdog;
    },
  };
}
