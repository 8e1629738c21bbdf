import type { DrainResult, ScenarioKind } from './claimScenarios';

/**
 * The claim benchmark's table and target checks, from the drain results alone (pure). With
 * repeated runs the checks use the median tokens/s of each scenario and concurrency.
 */

/** Issue targets (issue 13, for CouchDB): our claim over picasclient's, per number of claimers. */
export const RATIO_TARGETS: Record<number, number> = { 8: 2, 64: 2 };
/** Conflicts must stay under this share of claim PUTs at these concurrencies. */
export const CONFLICT_LIMIT_PCT = 10;
export const CONFLICT_LIMIT_AT = [64];
/** The claim's p95 latency must stay under this at the CONFLICT_LIMIT_AT concurrencies. */
export const P95_LIMIT_MS = 1000;
/** Our claim's tokens/s as a share of the raw single-document update rate. */
export const RAW_SHARE_TARGET_PCT = 70;

export interface Check {
  /** undefined: a figure for the reader, not one of the issue's targets. */
  pass: boolean | undefined;
  line: string;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function of(results: DrainResult[], scenario: ScenarioKind, claimers: number): DrainResult[] {
  return results.filter((r) => r.scenario === scenario && r.claimers === claimers);
}

export function medianRate(results: DrainResult[], scenario: ScenarioKind, claimers: number) {
  const runs = of(results, scenario, claimers);
  return runs.length ? median(runs.map((r) => r.tokensPerSecond)) : undefined;
}

const f = (n: number, digits = 0) => n.toFixed(digits);

export function markdownTable(results: DrainResult[]): string {
  const lines = [
    '| scenario | claimers | tokens/s | drain s (last claim / all returned) | conflicts (%) | double claims | give-ups | ratio vs picasclient | % of raw-put | % of raw-view-put | requests/s | requests/token | claim p50 / p95 ms | client CPU | server CPU |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const isClaim = r.scenario === 'grid-lrt' || r.scenario === 'picasclient';
    const picas = medianRate(results, 'picasclient', r.claimers);
    const share = (ceiling: ScenarioKind) => {
      const raw = medianRate(results, ceiling, r.claimers);
      return isClaim && raw ? `${f((100 * r.tokensPerSecond) / raw)} %` : '';
    };
    const ratio = isClaim && picas ? `${f(r.tokensPerSecond / picas, 2)}x` : '';
    const doubles = r.doubleClaims + (r.stored.writtenTwice > r.doubleClaims ? '*' : '');
    lines.push(
      `| ${r.scenario} | ${r.claimers} | ${f(r.tokensPerSecond)} | ${f(r.lastClaimSeconds, 2)} / ${f(r.seconds, 2)} | ${r.conflicts} (${f(r.conflictPct, 1)}) | ${doubles} | ${r.giveUps} | ${ratio} | ${share('raw-put')} | ${share('raw-view-put')} | ${f(r.requestsPerSecond)} | ${f(r.requests / Math.max(1, r.tokens), 2)} | ${f(r.latencyMs.p50, 1)} / ${f(r.latencyMs.p95, 1)} | ${f(r.clientCpuPct)} % | ${r.serverCpuPct === undefined ? '?' : `${f(r.serverCpuPct)} %`} |`,
    );
  }
  return lines.join('\n');
}

/** PASS/FAIL lines for the issue's targets, our claim only. */
export function targetChecks(results: DrainResult[]): Check[] {
  const checks: Check[] = [];
  const concurrencies = [...new Set(results.map((r) => r.claimers))].sort((a, b) => a - b);
  for (const n of concurrencies) {
    const ours = of(results, 'grid-lrt', n);
    const rate = medianRate(results, 'grid-lrt', n);
    if (!ours.length || rate === undefined) continue;
    const picas = medianRate(results, 'picasclient', n);
    const target = RATIO_TARGETS[n];
    if (target !== undefined && picas) {
      const ratio = rate / picas;
      checks.push({
        pass: ratio >= target,
        line: `${n} claimers: ${f(ratio, 2)}x picasclient (${f(rate)} vs ${f(picas)} tokens/s), target >= ${target}x`,
      });
    }
    if (CONFLICT_LIMIT_AT.includes(n)) {
      const worst = Math.max(...ours.map((r) => r.conflictPct));
      checks.push({
        pass: worst < CONFLICT_LIMIT_PCT,
        line: `${n} claimers: ${f(worst, 1)} % conflicts, target < ${CONFLICT_LIMIT_PCT} %`,
      });
      const p95 = Math.max(...ours.map((r) => r.latencyMs.p95));
      checks.push({
        pass: p95 < P95_LIMIT_MS,
        line: `${n} claimers: claim p95 ${f(p95)} ms (worst drain), target < ${P95_LIMIT_MS} ms`,
      });
    }
    const raw = medianRate(results, 'raw-put', n);
    if (raw) {
      const share = (100 * rate) / raw;
      checks.push({
        pass: share >= RAW_SHARE_TARGET_PCT,
        line: `${n} claimers: ${f(share)} % of the raw update rate (${f(rate)} vs ${f(raw)}/s), target >= ${RAW_SHARE_TARGET_PCT} %`,
      });
    }
    const viewRaw = medianRate(results, 'raw-view-put', n);
    if (viewRaw) {
      checks.push({
        pass: undefined,
        line: `${n} claimers: ${f((100 * rate) / viewRaw)} % of the view-read + PUT ceiling (${f(rate)} vs ${f(viewRaw)}/s)`,
      });
    }
    const doubles = ours.reduce((sum, r) => sum + Math.max(r.doubleClaims, r.stored.writtenTwice), 0);
    checks.push({ pass: doubles === 0, line: `${n} claimers: ${doubles} double claims, target 0` });
    const giveUps = ours.reduce((sum, r) => sum + r.giveUps + r.errors.length, 0);
    const left = ours.reduce((sum, r) => sum + r.stored.unclaimed, 0);
    checks.push({
      pass: giveUps === 0 && left === 0,
      line: `${n} claimers: ${giveUps} give-ups/errors, ${left} tokens left unclaimed, target 0`,
    });
  }
  return checks;
}
