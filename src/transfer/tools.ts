import { execa } from 'execa';
import { LrtError } from '../core';
import type { GridTool, TransferOptions } from './types';

/** The Debian package that ships each tool, for the E_TOOL_MISSING message. */
export const TOOL_PACKAGES: Record<GridTool, string> = {
  'globus-url-copy': 'globus-gass-copy-progs',
  'gfal-ls': 'gfal2-util-scripts python3-gfal2-util gfal2-plugin-gridftp',
  'gfal-sum': 'gfal2-util-scripts python3-gfal2-util gfal2-plugin-gridftp',
};

export const DEFAULT_GFAL_PYTHON = '/usr/bin/python3';

export interface ToolRun {
  tool: GridTool;
  exitCode: number | undefined;
  /** Set when the tool died of a signal (a crash, not a reported failure). */
  signal: string | undefined;
  stdout: string;
  stderr: string;
}

/** Environment additions for the grid tools: the proxy, the CA dir and the gfal python. */
export function toolEnv(options: TransferOptions): Record<string, string> {
  const env: Record<string, string> = { GFAL_PYTHONBIN: options.gfalPython ?? DEFAULT_GFAL_PYTHON };
  if (options.proxy) env.X509_USER_PROXY = options.proxy;
  if (options.certDir) env.X509_CERT_DIR = options.certDir;
  return env;
}

function missing(tool: GridTool, why: string, cause?: unknown): LrtError {
  return new LrtError(
    'E_TOOL_MISSING',
    `${tool} ${why}: install the Debian package(s) ${TOOL_PACKAGES[tool]} (scripts/install-system-packages.sh)`,
    { cause, details: { tool, packages: TOOL_PACKAGES[tool] } },
  );
}

// The gfal-* wrappers exit 127 (or fail to import) when no python with the gfal2 bindings is found.
const NO_GFAL_PYTHON_RE = /exec: .*python.*not found|No module named '?gfal2/;

/**
 * Runs a grid tool with an argument array. Resolves with the outcome (a failed exit included) so
 * the caller can classify it; throws E_TOOL_MISSING when the tool cannot run at all, and the
 * signal's reason when the caller cancelled.
 */
export async function runTool(
  tool: GridTool,
  args: readonly string[],
  options: TransferOptions,
): Promise<ToolRun> {
  const file = options.tools?.[tool] ?? tool;
  const result = await execa(file, args, {
    reject: false,
    env: toolEnv(options),
    stdin: 'ignore',
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    forceKillAfterDelay: 5000,
  });
  if (options.signal?.aborted) throw options.signal.reason;
  const code = (result as { code?: string }).code;
  if (result.failed && result.exitCode === undefined && result.signal === undefined) {
    if (code === 'ENOENT') throw missing(tool, `is not installed (not found: ${file})`, result);
    if (code === 'EACCES') throw missing(tool, `cannot be executed (${file})`, result);
  }
  const stderr = String(result.stderr ?? '');
  if (tool.startsWith('gfal-') && result.exitCode !== 0 && NO_GFAL_PYTHON_RE.test(stderr)) {
    throw missing(
      tool,
      `found no python with the gfal2 bindings (set GFAL_PYTHONBIN, tried ${
        options.gfalPython ?? DEFAULT_GFAL_PYTHON
      })`,
      result,
    );
  }
  return {
    tool,
    exitCode: result.exitCode,
    signal: result.signal,
    stdout: String(result.stdout ?? ''),
    stderr,
  };
}
