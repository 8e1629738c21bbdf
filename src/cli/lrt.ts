import { homedir } from 'node:os';
import { onClosedPipe } from '../core/closedPipe';
import { commands } from './commands';
import { runCli } from './run';

// `lrt ... | head`: stdout closed by the reader ends the command at once with status 0; a closed
// stderr only loses the notes written to it.
onClosedPipe(process.stdout, () => process.exit(0));
onClosedPipe(process.stderr, () => undefined);

runCli(commands, process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  home: homedir(),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`lrt: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
