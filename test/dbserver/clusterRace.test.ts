import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CouchCluster, startCouchCluster } from '../../src/dbserver';
import { type Client, clientFor, eventually } from './clusterClient';

/*
 * Two writers update the same revision of a document at the same moment, through two different
 * coordinators, as two pilots claiming one token would. Each replica takes whichever copy reaches
 * it first and refuses the other (409), so with n=3 one writer may be accepted by two replicas and
 * the other by one: with the default w=2 the first gets 201 and the second 202, both told their
 * write succeeded, and replication then stores the two revisions as a conflict. With w=3 no writer
 * can get 201 unless the other was refused everywhere.
 */

const MAX_PAIRS = 200;
/** Pairs answered 201 + 202 after which the first test stops. */
const ENOUGH_DOUBLE_WINS = 3;

type Pair = [number, number];

describe('CouchDB cluster stand-in: two writers racing on one revision', () => {
  let cluster: CouchCluster;
  let fronts: Client[];
  beforeAll(async () => {
    // The replicas share this process's one thread: two copies only swap order when the jitter
    // exceeds the time a node takes to handle a write (2-3 ms here, more on a loaded machine).
    cluster = await startCouchCluster({ nodes: 3, jitterMs: 5 });
    fronts = cluster.urls.map(clientFor);
    expect((await fronts[0]!('PUT', '/race')).status).toBe(201);
  });
  afterAll(async () => cluster?.close());

  /** Creates `id` on every replica, then sends the two updates at once through nodes 1 and 2. */
  async function race(id: string, query: string): Promise<Pair> {
    // w=3 waits for all three replicas (202 when replication beat a replica's own copy).
    const created = await fronts[0]!('PUT', `/race/${id}?w=3`, { claimed_by: null });
    expect(created.body.ok).toBe(true);
    const claim = (front: Client, pilot: string) =>
      front('PUT', `/race/${id}${query}`, { _rev: created.body.rev, claimed_by: pilot });
    const [first, second] = await Promise.all([claim(fronts[0]!, 'pilot-a'), claim(fronts[1]!, 'pilot-b')]);
    return [first.status, second.status];
  }

  const outcome = ([a, b]: Pair) => [a, b].sort().join('+');
  const succeeded = (status: number) => status === 201 || status === 202;

  it('with the default w=2 both writers can be told they won (201 + 202), and the document ends in conflict', async () => {
    const counts = new Map<string, number>();
    const doubleWins: string[] = [];
    let pairs = 0;
    while (pairs < MAX_PAIRS && doubleWins.length < ENOUGH_DOUBLE_WINS) {
      const id = `default-w-${pairs}`;
      const statuses = await race(id, '');
      pairs += 1;
      counts.set(outcome(statuses), (counts.get(outcome(statuses)) ?? 0) + 1);
      if (outcome(statuses) === '201+202') doubleWins.push(id);
    }
    console.log(`w=2: ${pairs} pairs:`, Object.fromEntries(counts));

    expect(doubleWins.length).toBeGreaterThan(0);
    // Each replica takes one of the two, so two quorums of 2 out of 3 cannot both form.
    expect(counts.get('201+201')).toBeUndefined();
    for (const id of doubleWins) {
      const merged = await eventually(async () => {
        const read = await fronts[2]!('GET', `/race/${id}?conflicts=true&r=3`);
        return read.body._conflicts?.length === 1 ? read.body : undefined;
      });
      expect(['pilot-a', 'pilot-b']).toContain(merged.claimed_by);
    }
  });

  it('with w=3 on both writes a 201 never comes beside another success', async () => {
    const counts = new Map<string, number>();
    for (let pair = 0; pair < 100; pair += 1) {
      const statuses = await race(`w3-${pair}`, '?w=3');
      counts.set(outcome(statuses), (counts.get(outcome(statuses)) ?? 0) + 1);
      if (statuses.includes(201)) expect(statuses.filter(succeeded)).toHaveLength(1);
    }
    console.log('w=3: 100 pairs:', Object.fromEntries(counts));
    const allowed = new Set(['201+409', '202+202', '202+409']);
    expect([...counts.keys()].every((pair) => allowed.has(pair))).toBe(true);
  });
});
