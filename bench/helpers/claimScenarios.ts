import type nano from 'nano';
import type { PicasDb } from '../../src/picas/client';
import { statusOf } from '../../src/picas/client';
import {
  CACHED_CLAIM_PAGE_SIZE,
  type ClaimOptions,
  claimPatch,
  claimToken,
  newCandidateCache,
} from '../../src/picas/protocol';
import { type StoredToken, tokenFromDoc, tokenToDoc } from '../../src/picas/tokenDoc';
import type { BenchServer } from './benchServer';
import { checkStored, countingPicas, freshTokenDb, type StoredCheck } from './claimDb';
import { PicasclientGaveUp, picasclientClaim } from './picasclientClaim';

/**
 * One drain per call: a fresh database of free tokens, N concurrent claimers in this process
 * until none gets a token, then what the server holds. The raw scenarios are ceilings: N
 * writers PUT the same claimed document our claim writes, with the `_rev` known, no contention;
 * `raw-view-put` reads the todo view page first, as our claim does (the ceiling of any claim
 * that reads a view per token).
 */

/** claimToken's default page size (src/picas/claim.ts), for the view-read ceiling. */
const CLAIM_PAGE_SIZE = 10;

export type ScenarioKind = 'grid-lrt' | 'picasclient' | 'raw-put' | 'raw-view-put';

export interface ScenarioInput {
  server: BenchServer;
  type: string;
  tokens: number;
  claimers: number;
  /** Passed to claimToken on top of the benchmark's pilot identity. */
  claimOptions?: Partial<ClaimOptions>;
  /** Distinguishes database names of repeated runs (each name also unique to the bench run). */
  run: number;
}

export interface DrainResult {
  scenario: ScenarioKind;
  claimers: number;
  /** Until every claimer has returned (the clock of tokens/s). */
  seconds: number;
  /** Until the last token was claimed: the rest of `seconds` is claimers finding the view empty. */
  lastClaimSeconds: number;
  /** Distinct tokens claimed (written, for raw-put). */
  tokens: number;
  tokensPerSecond: number;
  /** Successful claim PUTs, second claims of a token included. */
  claims: number;
  /** PUTs answered 409/404. */
  conflicts: number;
  /** conflicts / (claims + conflicts) * 100 */
  conflictPct: number;
  /** Claims of a token already claimed (claims - distinct tokens). */
  doubleClaims: number;
  /** Claimers that stopped while tokens were left (picasclient: 10 conflicts in a row). */
  giveUps: number;
  /** Claimer calls that threw something else. */
  errors: string[];
  backoffs: number;
  backoffMsTotal: number;
  requests: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p95: number; max: number };
  /** CPU time over wall time, in % of one core. */
  clientCpuPct: number;
  serverCpuPct: number | undefined;
  stored: StoredCheck;
}

interface Tally {
  claimed: string[];
  conflicts: number;
  giveUps: number;
  errors: string[];
  backoffs: number;
  backoffMsTotal: number;
  latencies: number[];
  /** Epoch of performance.now() of the last token claimed. */
  lastClaimAt: number;
  /** Claimers that returned because claimToken found nothing (grid-lrt). */
  stoppedEmpty: number;
}

type Claimer = (n: number, picas: PicasDb, tally: Tally) => Promise<void>;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A token claimed (written, for raw-put): its latency, and the time of the last claim so far. */
function recordClaim(tally: Tally, started: number): void {
  tally.lastClaimAt = performance.now();
  tally.latencies.push(tally.lastClaimAt - started);
}

/** Runs `call`; the latency of a call that got a token goes into the tally. */
async function timedCall<T>(tally: Tally, call: () => Promise<T | null>): Promise<T | null> {
  const started = performance.now();
  const result = await call();
  if (result !== null) recordClaim(tally, started);
  return result;
}

async function readTodo(picas: PicasDb, type: string, qs: Record<string, unknown>) {
  return (await picas.server.request({
    db: picas.name,
    path: `_design/${type}/_view/todo`,
    qs,
  } as nano.RequestOptions)) as { rows: unknown[] };
}

/** True when the todo view still lists a token (asked outside the request count). */
async function todoLeft(picas: PicasDb, type: string): Promise<boolean> {
  return (await readTodo(picas, type, { limit: 1 })).rows.length > 0;
}

function gridLrtClaimer(type: string, extra: Partial<ClaimOptions>): Claimer {
  return async (n, picas, tally) => {
    const options: ClaimOptions = {
      pilotId: `bench-pilot-${n}`,
      host: `wn${n}.bench`,
      leaseSeconds: 3600,
      maxAttempts: 3,
      // As the pilot claims (src/pilot/loop.ts): a candidate cache per claimer.
      cache: newCandidateCache(),
      pageSize: CACHED_CLAIM_PAGE_SIZE,
      ...extra,
      onEvent: (event) => {
        if (event.type === 'race') tally.conflicts++;
        if (event.type === 'backoff') {
          tally.backoffs++;
          tally.backoffMsTotal += event.ms;
        }
      },
    };
    for (;;) {
      const claim = await timedCall(tally, () => claimToken(picas, type, options));
      if (!claim) break;
      tally.claimed.push(claim.doc._id);
    }
    // Whether it stopped too early is asked once all have stopped, outside the clock (runScenario).
    tally.stoppedEmpty++;
  };
}

function picasclientClaimer(type: string): Claimer {
  return async (n, picas, tally) => {
    const options = { host: `wn${n}.bench`, onConflict: () => tally.conflicts++ };
    for (;;) {
      let doc: StoredToken | null;
      try {
        doc = await timedCall(tally, () => picasclientClaim(picas, type, options));
      } catch (err) {
        // EnvironmentError leaves RunActor.run: the pilot ends.
        if (err instanceof PicasclientGaveUp) tally.giveUps++;
        else throw err;
        return;
      }
      if (!doc) return;
      tally.claimed.push(doc._id);
    }
  };
}

/**
 * Writer n PUTs tokens n, n+N, n+2N ... once each: the claim's document, its `_rev` known;
 * with `viewPage`, after reading that many rows of the todo view (include_docs) each time.
 */
function rawPutWriter(tokens: StoredToken[], claimers: number, type: string, viewPage?: number): Claimer {
  return async (n, picas, tally) => {
    for (let i = n; i < tokens.length; i += claimers) {
      const started = performance.now();
      if (viewPage !== undefined) await readTodo(picas, type, { include_docs: true, limit: viewPage });
      const token = tokens[i]!;
      const patched = claimPatch(tokenFromDoc(token), {
        leaseId: `lease-${i}`,
        pilot: `bench-pilot-${n}`,
        host: `wn${n}.bench`,
        jobIds: {},
        now: Math.floor(Date.now() / 1000),
        leaseSeconds: 3600,
      });
      if ('skip' in patched) throw new Error(`raw-put: ${patched.skip}`);
      try {
        await picas.db.insert(tokenToDoc(patched.doc));
        recordClaim(tally, started);
        tally.claimed.push(token._id);
      } catch (err) {
        if (statusOf(err) !== 409) throw err;
        tally.conflicts++;
      }
    }
  };
}

export async function runScenario(kind: ScenarioKind, input: ScenarioInput): Promise<DrainResult> {
  const { server, type, claimers } = input;
  const name = server.databaseName(`bench_claim_${kind.replace(/-/g, '_')}_${claimers}_r${input.run}`);
  const { picas: plain, tokens } = await freshTokenDb(server.url, name, type, input.tokens);
  const { picas, requests } = countingPicas(plain);
  const makers: Record<ScenarioKind, () => Claimer> = {
    'grid-lrt': () => gridLrtClaimer(type, input.claimOptions ?? {}),
    picasclient: () => picasclientClaimer(type),
    'raw-put': () => rawPutWriter(tokens, claimers, type),
    'raw-view-put': () =>
      rawPutWriter(tokens, claimers, type, input.claimOptions?.pageSize ?? CLAIM_PAGE_SIZE),
  };
  const claimer = makers[kind]();
  const tally: Tally = {
    claimed: [],
    conflicts: 0,
    giveUps: 0,
    errors: [],
    backoffs: 0,
    backoffMsTotal: 0,
    latencies: [],
    lastClaimAt: 0,
    stoppedEmpty: 0,
  };

  const serverCpu0 = server.cpuSeconds();
  const clientCpu0 = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: claimers }, (_, n) =>
      claimer(n, picas, tally).catch((err: unknown) => {
        tally.errors.push(message(err));
      }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  const clientCpu = process.cpuUsage(clientCpu0);
  const serverCpu1 = server.cpuSeconds();
  // Every claimer that found nothing while the view still lists a token gave up too early.
  if (tally.stoppedEmpty > 0 && (await todoLeft(plain, type))) tally.giveUps += tally.stoppedEmpty;

  const stored = await checkStored(plain, type);
  await server.dropDatabase(name);
  const distinct = new Set(tally.claimed).size;
  const latencies = [...tally.latencies].sort((a, b) => a - b);
  const puts = tally.claimed.length + tally.conflicts;
  return {
    scenario: kind,
    claimers,
    seconds,
    lastClaimSeconds: tally.lastClaimAt > 0 ? (tally.lastClaimAt - started) / 1000 : 0,
    tokens: distinct,
    tokensPerSecond: distinct / seconds,
    claims: tally.claimed.length,
    conflicts: tally.conflicts,
    conflictPct: puts ? (100 * tally.conflicts) / puts : 0,
    doubleClaims: tally.claimed.length - distinct,
    giveUps: tally.giveUps,
    errors: tally.errors,
    backoffs: tally.backoffs,
    backoffMsTotal: tally.backoffMsTotal,
    requests: requests(),
    requestsPerSecond: requests() / seconds,
    latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), max: latencies.at(-1) ?? 0 },
    clientCpuPct: (100 * (clientCpu.user + clientCpu.system)) / 1e6 / seconds,
    serverCpuPct:
      serverCpu0 !== undefined && serverCpu1 !== undefined
        ? (100 * (serverCpu1 - serverCpu0)) / seconds
        : undefined,
    stored,
  };
}
