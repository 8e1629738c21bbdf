import { pilotMain } from '../../pilot/run';
import { defineCommand } from '../command';

export const pilotCommand = defineCommand({
  path: ['pilot'],
  summary: 'run the pilot here (same code as dist/pilot.js; `lrt pilot --help` for its options)',
  options: {},
  passthrough: true,
  run: (ctx) =>
    pilotMain({
      argv: ctx.positionals,
      env: ctx.env,
      stdout: process.stdout,
      stderr: process.stderr,
      cwd: ctx.cwd,
    }),
});

export const pilotCommands = [pilotCommand];
