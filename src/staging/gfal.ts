import { existsSync } from 'node:fs';
import { LrtError, mapWithConcurrency } from '../core';
import type { LocalityRunner, ProbeOutcome } from './locality';

export interface GfalOptions {
  /** The environment the tools run with (PATH, X509_USER_PROXY ...); process.env by default. */
  env?: Record<string, string | undefined>;
  /** Python with the gfal2 binding; GFAL_PYTHONBIN, then /usr/bin/python3. */
  pythonBin?: string;
  /** Seconds one gfal operation may take (default 180). */
  timeoutS?: number;
}

const DEFAULT_TIMEOUT_S = 180;

// execa is ESM-only: loaded on first use, so that importing this module from CommonJS (tsx, the
// login CLI) never requires it.
const loadExeca = () => import('execa').then((m) => m.execa);
const SYSTEM_PYTHON = '/usr/bin/python3';
const ERROR_RE = /gfal-xattr error:\s*(\d+)\s*\(([^)]*)\)\s*-\s*(.*)/;

/** gfal's scripts must run with the system python that has the gfal2 binding. */
export function gfalEnv(options: GfalOptions): Record<string, string | undefined> {
  const env = { ...(options.env ?? process.env) };
  const python =
    options.pythonBin ?? env.GFAL_PYTHONBIN ?? (existsSync(SYSTEM_PYTHON) ? SYSTEM_PYTHON : undefined);
  if (python) env.GFAL_PYTHONBIN = python;
  return env;
}

function toolMissing(tool: string, hint: string): LrtError {
  return new LrtError('E_TOOL_MISSING', `${tool} is not installed or not on PATH: ${hint}`);
}

/** The last meaningful line of a tool's stderr, shortened. */
function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const line = lines.at(-1) ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}...` : line;
}

/** A gfal error in one line: `Failed to retrieve xattr user.status (errno 61)`. Pure. */
export function gfalErrorOutcome(errno: number | undefined, message: string): ProbeOutcome {
  const first = message.trim().split('\n')[0]!.trim() || 'unknown gfal error';
  const short = first.length > 300 ? `${first.slice(0, 300)}...` : first;
  return errno === undefined ? { error: short } : { errno, error: `${short} (errno ${errno})` };
}

/** Reads the answer of one `gfal-xattr LINK user.status` run. Pure. */
export function xattrOutcome(exitCode: number | undefined, stdout: string, stderr: string): ProbeOutcome {
  const state = stdout.trim().split('\n').at(-1)?.trim();
  if (exitCode === 0 && state) return { state };
  const m = ERROR_RE.exec(stderr);
  if (m) return gfalErrorOutcome(Number(m[1]), m[3]!);
  return { error: lastLine(stderr) || `gfal-xattr exited with ${exitCode ?? 'a signal'}` };
}

/** One `gfal-xattr` process per link (each takes ~50 ms to start), `concurrency` at once. */
export function gfalXattrRunner(options: GfalOptions = {}): LocalityRunner {
  const timeoutS = options.timeoutS ?? DEFAULT_TIMEOUT_S;
  const env = gfalEnv(options);
  const once = async (link: string, signal?: AbortSignal) => {
    const execa = await loadExeca();
    const r = await execa('gfal-xattr', ['-t', String(timeoutS), link, 'user.status'], {
      env,
      extendEnv: false,
      reject: false,
      timeout: (timeoutS + 30) * 1000,
      ...(signal ? { cancelSignal: signal } : {}),
    });
    if ((r as { code?: string }).code === 'ENOENT') {
      throw toolMissing('gfal-xattr', 'install gfal2-util-scripts (Debian) or gfal2-util');
    }
    if (r.isCanceled) throw new LrtError('E_TIMEOUT', 'locality check cancelled');
    return r;
  };
  return {
    tool: 'gfal-xattr',
    async run(links, opts) {
      return mapWithConcurrency(links, opts.concurrency, async (link, index) => {
        let r = await once(link, opts.signal);
        // A crash of a gfal tool (seen: free(): invalid pointer) is worth one more try.
        if (r.signal !== undefined || r.timedOut) r = await once(link, opts.signal);
        const outcome = r.timedOut
          ? { error: `gfal-xattr took longer than ${timeoutS + 30} s` }
          : xattrOutcome(r.exitCode, r.stdout, r.stderr);
        opts.onResult?.(index, outcome);
        return outcome;
      });
    },
  };
}

// Reads a JSON list of links on stdin and answers one JSON line per link as soon as it is known.
const PYTHON_PROBE = `
import json, sys, threading
try:
    import gfal2
except ImportError as e:
    sys.stderr.write("no gfal2 binding: %s\\n" % e)
    sys.exit(3)
links = json.load(sys.stdin)
lanes, timeout = int(sys.argv[1]), int(sys.argv[2])
lock = threading.Lock()
todo = iter(range(len(links)))
def say(obj):
    with lock:
        sys.stdout.write(json.dumps(obj) + "\\n")
        sys.stdout.flush()
def lane():
    ctx = gfal2.creat_context()
    for group, key in (("CORE", "NAMESPACE_TIMEOUT"), ("SRM PLUGIN", "OPERATION_TIMEOUT")):
        try:
            ctx.set_opt_integer(group, key, timeout)
        except Exception:
            pass
    while True:
        with lock:
            i = next(todo, None)
        if i is None:
            return
        try:
            say({"i": i, "state": ctx.getxattr(links[i], "user.status").strip()})
        except gfal2.GError as e:
            say({"i": i, "errno": e.code, "error": str(e)})
        except Exception as e:
            say({"i": i, "error": str(e)})
threads = [threading.Thread(target=lane) for _ in range(max(1, min(lanes, len(links))))]
for t in threads: t.start()
for t in threads: t.join()
`;

interface ProbeLine {
  i: number;
  state?: string;
  errno?: number;
  error?: string;
}

/** One Python process with the gfal2 binding for the whole list, `concurrency` threads inside. */
export function gfal2PythonRunner(options: GfalOptions = {}): LocalityRunner {
  const timeoutS = options.timeoutS ?? DEFAULT_TIMEOUT_S;
  const env = gfalEnv(options);
  const python = env.GFAL_PYTHONBIN ?? 'python3';
  return {
    tool: 'gfal2-python',
    async run(links, opts) {
      const outcomes: ProbeOutcome[] = links.map(() => ({ error: 'no answer from the gfal2 binding' }));
      const lanes = Math.max(1, opts.concurrency);
      const rounds = Math.ceil(links.length / lanes);
      const execa = await loadExeca();
      const subprocess = execa(python, ['-c', PYTHON_PROBE, String(lanes), String(timeoutS)], {
        env,
        extendEnv: false,
        input: JSON.stringify(links),
        reject: false,
        timeout: (timeoutS * rounds + 60) * 1000,
        ...(opts.signal ? { cancelSignal: opts.signal } : {}),
      });
      for await (const line of subprocess) {
        let parsed: ProbeLine;
        try {
          parsed = JSON.parse(String(line)) as ProbeLine;
        } catch {
          continue;
        }
        if (!Number.isInteger(parsed.i) || parsed.i < 0 || parsed.i >= links.length) continue;
        const outcome: ProbeOutcome =
          parsed.state !== undefined
            ? { state: parsed.state }
            : gfalErrorOutcome(parsed.errno, parsed.error ?? '');
        outcomes[parsed.i] = outcome;
        opts.onResult?.(parsed.i, outcome);
      }
      const r = await subprocess;
      if (r.exitCode === 3) throw toolMissing(`the gfal2 Python binding (${python})`, lastLine(r.stderr));
      if ((r as { code?: string }).code === 'ENOENT') throw toolMissing(python, 'set GFAL_PYTHONBIN');
      if (r.isCanceled) throw new LrtError('E_TIMEOUT', 'locality check cancelled');
      if (r.exitCode !== 0) {
        const why = r.timedOut ? 'it took too long' : lastLine(r.stderr) || `exit ${r.exitCode ?? r.signal}`;
        outcomes.forEach((o, i) => {
          if (o.state === undefined && o.error === 'no answer from the gfal2 binding') {
            outcomes[i] = { error: `the gfal2 binding stopped: ${why}` };
            opts.onResult?.(i, outcomes[i]!);
          }
        });
      }
      return outcomes;
    },
  };
}

/** True when `python -c "import gfal2"` works. */
export async function hasGfal2Binding(options: GfalOptions = {}): Promise<boolean> {
  const env = gfalEnv(options);
  const execa = await loadExeca();
  const r = await execa(env.GFAL_PYTHONBIN ?? 'python3', ['-c', 'import gfal2'], {
    env,
    extendEnv: false,
    reject: false,
    timeout: 30_000,
  });
  return r.exitCode === 0;
}

export type GfalTool = 'auto' | 'python' | 'xattr';

/** `--tool`: auto (the gfal2 binding when present), python or xattr. Throws E_USAGE. */
export function parseGfalTool(text: string | undefined): GfalTool {
  const tool = text ?? 'auto';
  if (tool !== 'auto' && tool !== 'python' && tool !== 'xattr') {
    throw new LrtError('E_USAGE', `--tool must be auto, python or xattr, got "${tool}"`);
  }
  return tool;
}

/** The gfal2 binding when present (one process for the list), else gfal-xattr per file. */
export async function detectLocalityRunner(
  tool: GfalTool = 'auto',
  options: GfalOptions = {},
): Promise<LocalityRunner> {
  if (tool === 'xattr') return gfalXattrRunner(options);
  if (tool === 'python' || (await hasGfal2Binding(options))) return gfal2PythonRunner(options);
  return gfalXattrRunner(options);
}
