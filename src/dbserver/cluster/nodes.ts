import { randomBytes } from 'node:crypto';
import { type EmbeddedCouch, startEmbeddedCouch } from '../embedded';

export interface NodeSettings {
  count: number;
  host: string;
  adminUser: string;
  adminPassword: string;
}

/**
 * The cluster's replicas: embedded servers in memory, each in a name space of its own (the
 * cluster's random tag and the node's number) so that no two share a store, all with the same
 * admin. If one fails to start, the others are closed again.
 */
export async function startClusterNodes(settings: NodeSettings): Promise<EmbeddedCouch[]> {
  const cluster = randomBytes(4).toString('hex');
  const started = await Promise.allSettled(
    Array.from({ length: settings.count }, (_, i) =>
      startEmbeddedCouch({
        host: settings.host,
        adminUser: settings.adminUser,
        adminPassword: settings.adminPassword,
        memoryPrefix: `cluster-${cluster}-node${i + 1}-`,
      }),
    ),
  );
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failure = started.find((result) => result.status === 'rejected');
  if (failure) {
    await Promise.all(nodes.map((node) => node.close()));
    throw failure.reason;
  }
  return nodes;
}
