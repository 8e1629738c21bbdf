import { onClosedPipe } from '../core/closedPipe';
import { planCleanLaunch, relaunchClean, takeLaunchSecrets } from './cleanLaunch';
import { pilotMain } from './run';

// stdout carries only results (--help, --check, --json, --dry-run): a reader gone ends the pilot
// quietly. stderr carries the log: a reader gone must not stop the token in hand, whose log still
// goes to its attachment.
onClosedPipe(process.stdout, () => process.exit(0));
onClosedPipe(process.stderr, () => undefined);

/** A pilot started with secrets in env or argv runs again without them (cleanLaunch.ts). */
function start(): Promise<number> {
  const relaunched = takeLaunchSecrets(process.env);
  const argv = relaunched ?? process.argv.slice(2);
  const plan = relaunched ? undefined : planCleanLaunch(argv, process.env);
  if (plan) return relaunchClean(plan);
  return pilotMain({
    argv,
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    cwd: process.cwd(),
  });
}

start().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`pilot: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
