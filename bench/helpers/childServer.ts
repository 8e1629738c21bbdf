import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Starts bench/helpers/couch-server.ts (the embedded server, in memory) in a child process, so
 * the clients under test do not share the server's event loop, and reads its URL (with admin
 * credentials) from the first line it prints.
 */

const ROOT = resolve(__dirname, '../..');

export interface ChildServer {
  /** URL with admin credentials: keep it out of printed output. */
  url: string;
  pid: number;
  /** CPU seconds (user + system) the server process has used so far; undefined off Linux. */
  cpuSeconds(): number | undefined;
  stop(): Promise<void>;
}

/** utime + stime of a process from /proc/<pid>/stat (fields 14 and 15, in clock ticks). */
function procCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    // USER_HZ is 100 on every Linux that Node supports.
    return Number.isFinite(ticks) ? ticks / 100 : undefined;
  } catch {
    return undefined;
  }
}

/** `serverArgs`: more `lrt db serve` options (e.g. `--data DIR`); needs the build (dist/lrt.js). */
export async function startChildServer(serverArgs: readonly string[] = []): Promise<ChildServer> {
  // execa is ESM-only and this package is CommonJS: a dynamic import loads it under tsx.
  const { execa } = await import('execa');
  // e.g. LRT_BENCH_SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the server.
  const nodeArgs = (process.env.LRT_BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // The server as it ships (`lrt db serve` from the bundle, plain node) when built: under tsx every
  // require() the server makes per request goes through tsx's resolver, which inflates some routes.
  const shipped = existsSync(resolve(ROOT, 'dist/lrt.js'));
  if (serverArgs.length && !shipped)
    throw new Error(`lrt db serve ${serverArgs.join(' ')} needs the build: npm run build`);
  const script = shipped
    ? ['dist/lrt.js', 'db', 'serve', '--port', '0', ...serverArgs]
    : ['--import', 'tsx', 'bench/helpers/couch-server.ts'];
  const child = execa(process.execPath, [...nodeArgs, ...script], {
    cwd: ROOT,
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'inherit',
    reject: false,
  });
  const url = await new Promise<string>((done, fail) => {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const newline = buffered.indexOf('\n');
      if (newline >= 0) done(buffered.slice(0, newline).trim());
    });
    child.once('exit', (code) => fail(new Error(`server process exited with ${code} before listening`)));
  });
  const pid = child.pid!;
  return {
    url,
    pid,
    cpuSeconds: () => procCpuSeconds(pid),
    stop: async () => {
      child.kill('SIGTERM');
      await child;
    },
  };
}
