import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { fileReadError, isLrtError, LrtError } from '../../core';
import { buildSandboxFrom } from '../../sandbox/build';
import { inspectSandbox, modeString } from '../../sandbox/inspect';
import { ensureNodeRuntime, NODE_RUNTIME, RUNTIME_FILE } from '../../submit';
import { putUrl, safeUrl } from '../../transfer';
import { type CommandContext, defineCommand } from '../command';
import { EXIT } from '../exitCodes';

export const sandboxBuild = defineCommand({
  path: ['sandbox', 'build'],
  summary: 'build a reproducible sandbox tarball (master.sh, bin/, repositories, pilot.js)',
  json:
    '{file, name, sha256, bytes, entries: [PATH], repos: [{name, url, dir, commit, branch?}],\n' +
    ' pilot?: {from, sha256}, warnings: [TEXT]}',
  description:
    'PATH is a folder holding master.sh and bin/ (everything in it goes in), or a sandbox config\n' +
    '(YAML/JSON: name, dir, files, repos with url + commit; GRID_LRT git_scripts and\n' +
    'GRID_PiCaS_Launcher sandbox.git/scripts are read too). Repositories are cloned at their pinned\n' +
    'commit, without .git. The tarball has sorted entries, fixed times, owner 0 and normalised modes:\n' +
    'the same inputs give the same bytes. Its name carries its sha256: NAME-<16 hex>.tar.gz.\n' +
    'lrt-sandbox.json inside records the commits; pilot.js is the pilot bundle (dist/pilot.js).',
  options: {
    out: {
      type: 'string',
      short: 'o',
      default: '.',
      value: 'DIR',
      description: 'write the tarball to DIR (default .)',
    },
    pilot: {
      type: 'string',
      value: 'FILE',
      description: 'pilot bundle to include (default: dist/pilot.js of this package)',
    },
    'no-pilot': { type: 'boolean', description: 'build without pilot.js' },
    'with-runtime': {
      type: 'boolean',
      description: `add ${RUNTIME_FILE}, Node.js ${NODE_RUNTIME.version} for workers without node >= 18 (sha256 in lrt-sandbox.json)`,
    },
    'allow-unpinned': {
      type: 'boolean',
      description: 'take the branch head of repositories without a commit (recorded in lrt-sandbox.json)',
    },
  },
  positionals: [{ name: 'path', description: 'sandbox folder or sandbox config file' }],
  examples: ['lrt sandbox build ./my-sandbox -o build/', 'lrt sandbox build sandbox.yaml --allow-unpinned'],
  async run(ctx) {
    const { pilot, 'no-pilot': noPilot } = ctx.options;
    if (noPilot && pilot) {
      throw new LrtError('E_USAGE', '--pilot and --no-pilot exclude each other');
    }
    const runtime = ctx.options['with-runtime']
      ? await ensureNodeRuntime(ctx.env, (text) => ctx.out.note(text))
      : undefined;
    const result = await buildSandboxFrom(resolve(ctx.cwd, ctx.positionals[0]!), {
      ...(runtime
        ? {
            runtime: {
              file: runtime.file,
              entry: RUNTIME_FILE,
              sha256: runtime.sha256,
              version: runtime.version,
            },
          }
        : {}),
      outDir: resolve(ctx.cwd, ctx.options.out),
      pilotPath: noPilot ? false : pilot ? resolve(ctx.cwd, pilot) : undefined,
      allowUnpinned: ctx.options['allow-unpinned'],
    });
    for (const warning of result.warnings) ctx.out.note(`warning: ${warning}`);
    ctx.out.result(result);
    ctx.out.line(result.file);
    ctx.out.note(
      `sandbox ${result.name}: ${result.entries.length} entries, ${result.bytes} bytes, sha256 ${result.sha256}` +
        (result.repos.length
          ? `; ${result.repos.map((r) => `${r.name}@${r.commit.slice(0, 12)}`).join(', ')}`
          : '') +
        (result.pilot ? '' : '; no pilot.js'),
    );
    return EXIT.ok;
  },
});

export const sandboxInspect = defineCommand({
  path: ['sandbox', 'inspect'],
  summary: 'list a sandbox tarball and check it: master.sh present and executable, no unsafe entries',
  json:
    '{file, bytes, sha256, ok, entries: [{path, type, mode, size, linkpath?}],\n' +
    ' problems: [{path, problem, unsafe}]}',
  description:
    'Unsafe: absolute paths, "..", links that leave the sandbox, devices and fifos, setuid bits.\n' +
    'Exit 7 when an entry is unsafe, 1 when master.sh is missing or not executable.',
  options: {},
  positionals: [{ name: 'file', description: 'sandbox .tar.gz or .tar' }],
  async run(ctx) {
    const report = await inspectSandbox(resolve(ctx.cwd, ctx.positionals[0]!));
    ctx.out.result(report);
    for (const e of report.entries) {
      const link = e.linkpath ? ` -> ${e.linkpath}` : '';
      ctx.out.line(`${modeString(e)} ${String(e.size).padStart(10)} ${e.path}${link}`);
    }
    for (const p of report.problems)
      ctx.out.note(`${p.unsafe ? 'unsafe' : 'problem'}: ${p.path} ${p.problem}`);
    ctx.out.note(`${report.entries.length} entries, ${report.bytes} bytes, sha256 ${report.sha256}`);
    if (report.ok) return EXIT.ok;
    const unsafe = report.problems.some((p) => p.unsafe);
    const message = `${report.file}: ${report.problems.length} problem(s), first: ${report.problems[0]!.path} ${report.problems[0]!.problem}`;
    // The listing is already out; the error line says why the exit code is not 0.
    ctx.out.note(`lrt: ${message}`);
    return unsafe ? EXIT.invalidInput : EXIT.failure;
  },
});

/** The token of --bearer-token-file; a file that is missing, unreadable or empty is named as the flag. */
async function readBearerTokenFile(ctx: CommandContext, file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(resolve(ctx.cwd, file), 'utf8');
  } catch (err) {
    throw fileReadError(`--bearer-token-file ${file}: cannot read it`, err);
  }
  const token = text.trim();
  if (!token) throw new LrtError('E_CONFIG', `--bearer-token-file ${file} is empty`);
  return token;
}

export const sandboxUpload = defineCommand({
  path: ['sandbox', 'upload'],
  summary: 'upload a sandbox tarball to storage (gsiftp://, srm://, https://, davs://, file://)',
  json: '{url, bytes, adler32?}',
  description:
    'A URL ending in / is a folder: the tarball keeps its name there. Prints the final URL, which\n' +
    'goes into the token config (sandbox.location) or SBXloc.',
  options: {
    'create-dirs': { type: 'boolean', description: 'create missing folders at the destination' },
    proxy: { type: 'string', value: 'FILE', description: 'X.509 proxy (default: X509_USER_PROXY)' },
    'bearer-token-file': {
      type: 'string',
      value: 'FILE',
      description: 'file with a bearer token (OIDC or macaroon) for https/davs',
    },
  },
  positionals: [
    { name: 'file', description: 'sandbox tarball' },
    { name: 'url', description: 'destination URL or folder URL ending in /' },
  ],
  examples: ['lrt sandbox upload demo-0123456789abcdef.tar.gz gsiftp://gridftp.example.org/pnfs/sandbox/'],
  async run(ctx) {
    const [file, target] = ctx.positionals as [string, string];
    const url = target.endsWith('/') ? `${target}${basename(file)}` : target;
    const tokenFile = ctx.options['bearer-token-file'];
    const bearerToken = tokenFile ? await readBearerTokenFile(ctx, tokenFile) : undefined;
    const proxy = ctx.options.proxy ?? ctx.env.X509_USER_PROXY;
    const result = await putUrl(resolve(ctx.cwd, file), url, {
      createDirs: ctx.options['create-dirs'],
      ...(proxy ? { proxy } : {}),
      ...(bearerToken ? { bearerToken } : {}),
    }).catch((err: unknown) => {
      if (isLrtError(err) && err.details.missingDestinationDir) {
        throw new LrtError(err.code, `${err.message}; create it, or pass --create-dirs`, {
          cause: err,
          details: err.details,
        });
      }
      throw err;
    });
    ctx.out.result(result);
    ctx.out.line(safeUrl(url));
    ctx.out.note(`uploaded ${result.bytes} bytes${result.adler32 ? `, adler32 ${result.adler32}` : ''}`);
    return EXIT.ok;
  },
});

export const sandboxCommands = [sandboxBuild, sandboxInspect, sandboxUpload];
