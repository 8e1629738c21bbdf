import type { PicasDb } from './client';
import type { ClusterSetting } from './connectionSettings';
import { type CouchCall, couchCall } from './couchHttp';

/*
 * Whether the PiCaS database is replicated (a CouchDB cluster, n > 1) and so whether the cluster
 * rules of docs/protocol.md apply: writes ask for every replica (`w=n`), a 202 is settled before it
 * counts, settling reads ask every replica (`r=n`).
 */

export interface ClusterRules {
  /** The cluster rules apply. */
  on: boolean;
  /** Replicas of each document: the `w` and `r` the rules ask for. */
  replicas: number;
}

/** The rules when the replica count `n` is known (pure). */
export function rulesFor(setting: ClusterSetting, n: number | undefined): ClusterRules {
  if (setting === 'off') return { on: false, replicas: 1 };
  const replicas = Number.isInteger(n) && n! > 0 ? n! : 1;
  // Forced on without a replica count from the server: assume the smallest real cluster.
  if (setting === 'on') return { on: true, replicas: Math.max(2, replicas) };
  return { on: replicas > 1, replicas };
}

const known = new WeakMap<PicasDb, Promise<ClusterRules>>();

/** The rules for this database, read once per handle (`GET /db`, its `cluster.n`). */
export function clusterRules(picas: PicasDb): Promise<ClusterRules> {
  const setting = picas.settings.cluster ?? 'auto';
  if (setting === 'off') return Promise.resolve(rulesFor('off', 1));
  let rules = known.get(picas);
  if (!rules) {
    rules = couchCall<{ cluster?: { n?: number } }>(picas, { method: 'GET', path: [] }).then(({ body }) =>
      rulesFor(setting, body?.cluster?.n),
    );
    // A failed read is not remembered: the next call asks again.
    rules.catch(() => known.delete(picas));
    known.set(picas, rules);
  }
  return rules;
}

/** Query parameters of a write under the rules: `w=n` on a cluster. */
export function writeQuorum(rules: ClusterRules): CouchCall['qs'] {
  return rules.on ? { w: rules.replicas } : {};
}

/** Query parameters of a settling read: `r=n` on a cluster. */
export function readQuorum(rules: ClusterRules): CouchCall['qs'] {
  return rules.on ? { r: rules.replicas } : {};
}
