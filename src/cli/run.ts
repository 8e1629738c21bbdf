import { isLrtError, LrtError, TOOL_VERSION } from '../core';
import {
  type Command,
  type CommandContext,
  checkPositionals,
  commandHelp,
  parseCommandArgs,
} from './command';
import { GROUP_HELP } from './commands/groupHelp';
import { EXIT, EXIT_CODE_HELP, exitCodeFor } from './exitCodes';
import { optionValues } from './options';
import { createOutput, type OutputStreams } from './output';
import { secretsInEnv } from './secrets';

export interface RunEnvironment extends OutputStreams {
  env: Record<string, string | undefined>;
  cwd: string;
  home: string;
}

/** Finds the command whose path is the longest prefix of argv. */
function findCommand(commands: Command[], argv: string[]): { command?: Command; rest: string[] } {
  let best: Command | undefined;
  for (const command of commands) {
    const matches = command.path.every((word, i) => argv[i] === word);
    if (matches && (!best || command.path.length > best.path.length)) best = command;
  }
  return { command: best, rest: best ? argv.slice(best.path.length) : argv };
}

export function overviewHelp(commands: Command[], prefix: string[] = []): string {
  const shown = commands.filter((c) => prefix.every((word, i) => c.path[i] === word));
  const width = Math.max(...shown.map((c) => c.path.join(' ').length)) + 4;
  const lines = [
    `Usage: lrt ${prefix.length ? `${prefix.join(' ')} ` : ''}COMMAND [options]`,
    '',
    'grid-lrt: LOFAR data processing on the Grid with PiCaS tokens and pilot jobs.',
    '',
    'Commands:',
    ...shown.map((c) => `  ${c.path.join(' ').padEnd(width)}${c.summary}`),
    '',
    ...(prefix[0] && GROUP_HELP[prefix[0]] ? [GROUP_HELP[prefix[0]]!, ''] : []),
    `Run 'lrt COMMAND --help' for the options of one command, 'lrt --version' for the version.`,
    '',
    EXIT_CODE_HELP,
  ];
  return lines.join('\n');
}

/** Parses argv, runs the command, renders errors; returns the exit code. Never throws. */
export async function runCli(
  commands: Command[],
  argv: string[],
  environment: RunEnvironment,
): Promise<number> {
  if (argv.length === 1 && argv[0] === '--version') {
    environment.stdout.write(`lrt (grid-lrt) ${TOOL_VERSION}\n`);
    return EXIT.ok;
  }
  const wantsJson = argv.includes('--json');
  const out = createOutput(wantsJson, { ...environment, secrets: secretsInEnv(environment.env) });
  const { command, rest } = findCommand(commands, argv);
  if (!command) {
    const groupPrefix = argv.filter((a) => !a.startsWith('-'));
    const isGroup = groupPrefix.length > 0 && commands.some((c) => c.path[0] === groupPrefix[0]);
    const asksHelp = argv.length === 0 || argv.includes('--help') || argv.includes('-h');
    const word = argv[1];
    if (isGroup && !asksHelp && word !== undefined && !word.startsWith('-')) {
      // `lrt tokens lst`: say which word is wrong, not only print the group's help.
      const known = commands.filter((c) => c.path[0] === argv[0]).map((c) => c.path.slice(1).join(' '));
      out.error(
        new LrtError(
          'E_USAGE',
          `unknown command "${argv[0]} ${word}": the ${argv[0]} commands are ${known.join(', ')}. Run 'lrt ${argv[0]} --help'.`,
        ),
      );
      return EXIT.usage;
    }
    if (asksHelp || isGroup) {
      environment.stdout.write(`${overviewHelp(commands, isGroup ? [groupPrefix[0]!] : [])}\n`);
      return asksHelp ? EXIT.ok : EXIT.usage;
    }
    out.error(new LrtError('E_USAGE', `unknown command "${argv.join(' ')}". Run 'lrt --help'.`));
    return EXIT.usage;
  }
  try {
    if (command.passthrough) {
      const ctx: CommandContext = {
        options: {},
        positionals: rest,
        out,
        env: environment.env,
        cwd: environment.cwd,
        home: environment.home,
        command: command.path.join(' '),
      };
      return await command.run(ctx);
    }
    const { values, positionals } = parseCommandArgs(command, rest);
    if (values.help) {
      environment.stdout.write(`${commandHelp(command)}\n`);
      return EXIT.ok;
    }
    checkPositionals(command, positionals);
    const ctx: CommandContext = {
      options: optionValues(command.options, values),
      positionals,
      out,
      env: environment.env,
      cwd: environment.cwd,
      home: environment.home,
      command: command.path.join(' '),
    };
    return await command.run(ctx);
  } catch (err) {
    out.error(err);
    return isLrtError(err) ? exitCodeFor(err.code) : EXIT.failure;
  }
}
