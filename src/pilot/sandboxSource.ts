import { LrtError } from '../core';
import type { TokenDoc } from '../picas/tokenDoc';
import type { GitSandbox, SandboxSource } from '../sandbox';

/** Where GRID_LRT's relative `SBXloc` values live (the SKSP sandbox area at SURF). */
export const DEFAULT_SANDBOX_BASE =
  'gsiftp://gridftp.grid.sara.nl:2811/pnfs/grid.sara.nl/data/lofar/user/sksp/sandbox/';

export type { GitSandbox, SandboxSource, TarballSandbox } from '../sandbox';

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function configOf(token: TokenDoc): Record<string, unknown> | undefined {
  const raw = token['config.json'];
  if (typeof raw === 'string') {
    try {
      const parsed: unknown = JSON.parse(raw);
      return isRecord(parsed) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }
  return isRecord(raw) ? raw : undefined;
}

function optionalString(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** The git form of `config.json.sandbox` (GRID_PiCaS_Launcher): a repo plus script repos. */
function gitSandbox(tokenId: string, sandbox: Record<string, unknown>): GitSandbox | undefined {
  const git = sandbox.git;
  if (!isRecord(git)) return undefined;
  const url = optionalString(git.url);
  if (!url)
    throw new LrtError('E_SANDBOX', `token ${tokenId}: config.json.sandbox.git has no url`, { exitCode: -2 });
  const scripts: GitSandbox['scripts'] = [];
  const entries = Array.isArray(sandbox.scripts) ? sandbox.scripts : [];
  for (const entry of entries) {
    if (!isRecord(entry)) continue;
    for (const [name, spec] of Object.entries(entry)) {
      if (!isRecord(spec) || !optionalString(spec.url)) {
        throw new LrtError('E_SANDBOX', `token ${tokenId}: sandbox script "${name}" has no url`, {
          exitCode: -2,
        });
      }
      scripts.push({
        name,
        url: spec.url as string,
        branch: optionalString(spec.branch),
        commit: optionalString(spec.commit),
        checkoutDir: optionalString(spec.checkout_dir) ?? name,
      });
    }
  }
  return {
    kind: 'git',
    url,
    branch: optionalString(git.branch),
    commit: optionalString(git.commit),
    scripts,
  };
}

/**
 * Which sandbox a token asks for: `config.json.sandbox` (git form) wins over the legacy
 * `SBXloc` tarball; a relative SBXloc is resolved against `sandboxBase`.
 */
export function sandboxSourceOf(token: TokenDoc, sandboxBase: string = DEFAULT_SANDBOX_BASE): SandboxSource {
  const config = configOf(token);
  const sandbox = config?.sandbox;
  if (isRecord(sandbox)) {
    const git = gitSandbox(token._id, sandbox);
    if (git) return git;
    const location = optionalString(sandbox.location) ?? optionalString(sandbox.url);
    if (location) return { kind: 'tarball', url: location };
  }
  const sbx = optionalString(token.SBXloc);
  if (sbx) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(sbx)) return { kind: 'tarball', url: sbx };
    if (sbx.startsWith('/')) return { kind: 'tarball', url: `file://${sbx}` };
    return {
      kind: 'tarball',
      url: new URL(sbx, sandboxBase.endsWith('/') ? sandboxBase : `${sandboxBase}/`).toString(),
    };
  }
  throw new LrtError(
    'E_SANDBOX',
    `token ${token._id} names no sandbox: it needs config.json.sandbox or SBXloc`,
    { exitCode: -2 },
  );
}
