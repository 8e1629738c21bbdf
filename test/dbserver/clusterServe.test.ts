import { tmpdir } from 'node:os';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { DIST_LRT } from '../helpers/cli';
import { clientFor } from './clusterClient';

function lrtDbServe(args: string[]) {
  return execa('node', [DIST_LRT, 'db', 'serve', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: tmpdir(), LRT_DB_ADMIN_PASSWORD: 'serve-pw' },
    extendEnv: false,
    reject: false,
  });
}

describe('lrt db serve --nodes', () => {
  it('prints one coordinator URL per node, node 1 first, serves the cluster, and stops on SIGTERM', async () => {
    const child = lrtDbServe(['--nodes', '3']);
    const urls = await new Promise<string[]>((done, fail) => {
      let buffered = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        if (lines.length > 3) done(lines.slice(0, 3));
      });
      child.once('exit', (code) => fail(new Error(`lrt db serve exited ${code}`)));
    });
    for (const url of urls) expect(url).toMatch(/^http:\/\/admin:serve-pw@127\.0\.0\.1:\d+$/);
    expect(new Set(urls).size).toBe(3);

    const [first, , third] = urls.map(clientFor);
    expect((await first!('PUT', '/served')).status).toBe(201);
    expect((await third!('GET', '/served')).body.cluster).toEqual({ q: 1, n: 3, w: 2, r: 2 });

    child.kill('SIGTERM');
    expect((await child).exitCode).toBe(0);
  });

  it('prints {url, urls, nodes} with --json, and refuses --data for a cluster', async () => {
    const child = lrtDbServe(['--nodes', '2', '--json']);
    const printed = await new Promise<string>((done, fail) => {
      let buffered = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        if (buffered.trimEnd().endsWith('}')) done(buffered);
      });
      child.once('exit', (code) => fail(new Error(`lrt db serve exited ${code}`)));
    });
    const result = JSON.parse(printed) as { url: string; urls: string[]; nodes: number };
    expect(result.nodes).toBe(2);
    expect(result.urls).toHaveLength(2);
    expect(result.url).toBe(result.urls[0]);
    child.kill('SIGTERM');
    await child;

    const refused = await lrtDbServe(['--nodes', '3', '--data', tmpdir()]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('--data');
  });
});
