import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startCoordinator } from './coordinator';
import { FanOut } from './fanout';
import { nodeAddress } from './nodeHttp';
import { startClusterNodes } from './nodes';
import { ReplicationMesh } from './replication';

/*
 * A stand-in for an Apache CouchDB 3.x cluster (q=1, n replicas) built from embedded servers:
 * writes go to every replica and are answered by quorum (201/202/409), reads merge the replicas'
 * revision trees, and continuous replication between the replicas makes them converge, so
 * concurrent writers through different nodes get what they would get from CouchDB, stored
 * conflicts included. See docs/cluster-standin.md.
 */

export interface CouchClusterOptions {
  /** Replicas (n), each with its own store and its own coordinator listener. Default 3. */
  nodes?: number;
  host?: string;
  /** Port of node 1's listener, node i's is port + i - 1. 0 (default) picks free ports. */
  port?: number;
  adminUser?: string;
  /** Generated when absent. */
  adminPassword?: string;
  /** Each copy of a write reaches its replica after a random delay in [0, jitterMs]. Default 3. */
  jitterMs?: number;
}

export interface CouchCluster {
  /** The coordinators' URLs with the admin credentials in them, node 1 first. */
  urls: string[];
  /** The same URLs without credentials. */
  urlsWithoutCredentials: string[];
  /** The replicas' own servers (credentials in them): one copy, no quorum, for looking behind the front. */
  nodeUrls: string[];
  adminUser: string;
  adminPassword: string;
  /** Stops replication between the replicas: a write then stays on the replicas it reached. */
  pauseReplication(): Promise<void>;
  /** Restarts replication; it catches up from where it stopped. */
  resumeReplication(): void;
  /** Stops the listeners, replication and nodes; nothing of the cluster is left to keep the process alive. */
  close(): Promise<void>;
}

export async function startCouchCluster(options: CouchClusterOptions = {}): Promise<CouchCluster> {
  const count = options.nodes ?? 3;
  if (!Number.isInteger(count) || count < 1)
    throw new RangeError(`nodes must be a whole number >= 1, got ${count}`);
  const host = options.host ?? '127.0.0.1';
  const adminUser = options.adminUser ?? 'admin';
  const adminPassword = options.adminPassword ?? randomBytes(16).toString('hex');

  const nodes = await startClusterNodes({ count, host, adminUser, adminPassword });
  const agent = new http.Agent({ keepAlive: true });
  const fanOut = new FanOut(agent, options.jitterMs ?? 3);
  const mesh = new ReplicationMesh(nodes);
  const context = { nodes: nodes.map((node) => nodeAddress(node.url)), agent, fanOut, mesh };
  const port = options.port ?? 0;
  const started = await Promise.allSettled(
    nodes.map((_, i) => startCoordinator(context, i, host, port ? port + i : 0)),
  );
  const fronts = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const closeAll = async () => {
    await Promise.all(
      fronts.map(
        (front) =>
          new Promise<void>((done) => {
            front.closeAllConnections();
            front.close(() => done());
          }),
      ),
    );
    await fanOut.drain();
    await mesh.close();
    await Promise.all(nodes.map((node) => node.close()));
    agent.destroy();
  };
  const refused = started.find((s) => s.status === 'rejected');
  if (refused) {
    // A port in use: nothing started may keep the process alive after the error.
    await closeAll();
    throw refused.reason;
  }

  const urlsWithoutCredentials = fronts.map(
    (front) => `http://${host}:${(front.address() as AddressInfo).port}`,
  );
  return {
    urls: urlsWithoutCredentials.map((url) => withCredentials(url, adminUser, adminPassword)),
    urlsWithoutCredentials,
    nodeUrls: nodes.map((node) => node.urlWithCredentials),
    adminUser,
    adminPassword,
    pauseReplication: () => mesh.pause(),
    resumeReplication: () => mesh.resume(),
    close: closeAll,
  };
}

function withCredentials(url: string, user: string, password: string): string {
  const credentialed = new URL(url);
  credentialed.username = encodeURIComponent(user);
  credentialed.password = encodeURIComponent(password);
  return credentialed.toString().replace(/\/$/, '');
}
