import { onClosedPipe } from '../core/closedPipe';
import { pilotMain } from './run';

// stdout carries only results (--help, --check, --json, --dry-run): a reader gone ends the pilot
// quietly. stderr carries the log: a reader gone must not stop the token in hand, whose log still
// goes to its attachment.
onClosedPipe(process.stdout, () => process.exit(0));
onClosedPipe(process.stderr, () => undefined);

pilotMain({
  argv: process.argv.slice(2),
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`pilot: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
