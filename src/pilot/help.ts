import { optionHelpLines } from '../cli/options';
import { PILOT_OPTIONS } from './settings';

export const PILOT_EXIT_CODES = {
  ok: 0,
  failure: 1,
  usage: 2,
  unreachable: 3,
  auth: 4,
  sigint: 130,
  sigterm: 143,
} as const;

export function pilotHelp(): string {
  const lines = [
    'Usage: node pilot.js [options]',
    '       node pilot.js DB USER PASSWORD TYPE   (legacy LOFAR form: the password shows in the process list)',
    '',
    'The grid-lrt pilot: claims PiCaS tokens of one type, runs their sandbox master.sh, records the',
    'result in the token, and goes on until no work is left. Runs with plain node >= 18.',
    '',
    'Data: a token with stage_in has its srm.txt downloaded into Input/ before master.sh, one with',
    'stage_out has Output/ uploaded after it (lrt tokens create sets both by default). Schemes,',
    'checksums, retries and NEARLINE files: the README of grid-lrt, section "Data movement".',
    'A token naming a container image (config.json.container.singularity.SIMG) has it fetched into the',
    'node cache first (phase pulling_container); master.sh gets SIMG and SIMG_COMMIT',
    '(docs/container-images.md).',
    '',
    'Credentials: PICAS_URL (may carry user:password), PICAS_DB, PICAS_USR, PICAS_USR_PWD, --credentials FILE,',
    'or ~/.picasrc. They are never passed to master.sh unless --export-credentials is given.',
    '',
    'Options:',
  ];
  lines.push(...optionHelpLines(PILOT_OPTIONS));
  lines.push(
    '',
    'Exit codes: 0 finished (tokens that failed are recorded in the database as error), 1 pilot failure,',
    '2 usage error, 3 database unreachable, 4 credentials refused, 130 stopped by SIGINT, 143 stopped by',
    'SIGTERM (the token in hand is given back to todo with its logs).',
  );
  return lines.join('\n');
}
