import { createServer, type Server, Socket } from 'node:net';

/**
 * A TCP proxy between the pilots and the database that behaves like a bad grid network: every
 * chunk is delayed, and now and then a connection is reset (RST) instead of forwarding a chunk,
 * either before the request reaches the server or after the server acted on it (the reply lost).
 * When the database is down, connections are accepted and reset at once.
 */

export interface ChaosProxyOptions {
  /** Where the database listens. */
  target: { host: string; port: number };
  /** Added to each chunk in each direction, uniform in [min, max] ms. */
  latencyMs: [number, number];
  /** Chance that a chunk resets its connection instead of passing. */
  resetProbability: number;
  rng?: () => number;
}

export interface ChaosProxyStats {
  connections: number;
  /** Connections reset on purpose. */
  resets: number;
  /** Connections refused because the database could not be reached. */
  refused: number;
}

export interface ChaosProxy {
  port: number;
  stats: ChaosProxyStats;
  /** Change how often connections are reset (0 turns the resets off). */
  setResetProbability(p: number): void;
  close(): Promise<void>;
}

function reset(socket: Socket): void {
  if (socket.destroyed) return;
  // resetAndDestroy sends RST like a dropped NAT entry; destroy() alone would be a clean FIN.
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

export async function startChaosProxy(options: ChaosProxyOptions): Promise<ChaosProxy> {
  const rng = options.rng ?? Math.random;
  const stats: ChaosProxyStats = { connections: 0, resets: 0, refused: 0 };
  let resetProbability = options.resetProbability;
  const open = new Set<Socket>();
  const delay = () => {
    const [min, max] = options.latencyMs;
    return min + rng() * (max - min);
  };

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    stats.connections++;
    open.add(client);
    const upstream = new Socket();
    open.add(upstream);
    let broken = false;
    const breakBoth = (counted: 'resets' | 'refused' | undefined) => {
      if (broken) return;
      broken = true;
      if (counted) stats[counted]++;
      reset(client);
      reset(upstream);
    };
    client.on('close', () => {
      open.delete(client);
      if (!broken) upstream.end();
    });
    upstream.on('close', () => {
      open.delete(upstream);
      if (!broken) client.end();
    });
    let connected = false;
    client.on('error', () => breakBoth(undefined));
    upstream.on('error', () => breakBoth(connected ? undefined : 'refused'));

    // Chunks keep their order: each waits for its own delay after the previous one was written.
    const pipeDelayed = (from: Socket, to: Socket) => {
      let chain = Promise.resolve();
      from.on('data', (chunk) => {
        if (rng() < resetProbability) {
          breakBoth('resets');
          return;
        }
        const wait = delay();
        chain = chain.then(
          () =>
            new Promise<void>((done) =>
              setTimeout(() => {
                if (!broken && !to.destroyed) to.write(chunk);
                done();
              }, wait),
            ),
        );
      });
      from.on('end', () => {
        chain = chain.then(() => {
          if (!broken) to.end();
        });
      });
    };
    upstream.connect(options.target.port, options.target.host, () => {
      connected = true;
      pipeDelayed(client, upstream);
      pipeDelayed(upstream, client);
      client.resume();
    });
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => done());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('chaos proxy: no port');
  return {
    port: address.port,
    stats,
    setResetProbability(p) {
      resetProbability = p;
    },
    close: () =>
      new Promise<void>((done) => {
        for (const socket of open) socket.destroy();
        server.close(() => done());
      }),
  };
}
