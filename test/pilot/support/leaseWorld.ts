import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { groupAlive } from '../../../src/pilot/terminate';
import { createPilotWorld, type PilotWorld, waitFor } from '../../helpers/pilotWorld';

/**
 * A payload the test steers through files next to $DEMO_MARK: it records its pid (the payload's
 * process group), writes a result into Output/, waits for `$DEMO_MARK.go`, then appends the token
 * to the ledger. With IGNORE_TERM set it ignores TERM (as a busy LOFAR step may), so only a KILL
 * stops it.
 */
export const STEERED_MASTER_SH = `#!/usr/bin/env bash
echo $$ > "$DEMO_MARK.pid"
if [ -n "\${IGNORE_TERM:-}" ]; then trap '' TERM; fi
mkdir -p Output
echo "result of $TOKEN" > Output/result.txt
while [ ! -e "$DEMO_MARK.go" ]; do sleep 0.1; done
echo "$TOKEN" >> "$DEMO_LEDGER"
`;

export interface SteeredPayload {
  /** Environment for the pilot that runs it. */
  env: Record<string, string>;
  /** Resolves with the payload's pid (= process group) once it runs. */
  started(): Promise<number>;
  /** Let it finish. */
  release(): Promise<void>;
}

export function steeredPayload(world: PilotWorld, name: string): SteeredPayload {
  const mark = join(world.dir, name);
  return {
    env: { DEMO_MARK: mark },
    started: () =>
      waitFor(
        async () =>
          existsSync(`${mark}.pid`) ? Number((await readFile(`${mark}.pid`, 'utf8')).trim()) : undefined,
        30_000,
        'payload start',
      ),
    release: () => writeFile(`${mark}.go`, ''),
  };
}

export function createSteeredWorld(
  type: string,
  tokenFields: Record<string, unknown> = {},
): Promise<PilotWorld> {
  return createPilotWorld({
    type,
    masterScript: STEERED_MASTER_SH,
    tokens: [{ id: `t_${type}`, fields: tokenFields }],
  });
}

/** Waits until the token's revision moves on from `rev` (a write landed, e.g. a renewal): the new one. */
export async function nextWrite(world: PilotWorld, id: string, rev: string | undefined, ms = 30_000) {
  return waitFor(
    async () => {
      const token = await world.token(id);
      return token._rev !== rev ? token : undefined;
    },
    ms,
    `a write to ${id}`,
  );
}

/** Local epoch ms at which no process of group `pgid` runs any more. */
export async function groupGoneAt(pgid: number, ms = 60_000): Promise<number> {
  return waitFor(async () => (groupAlive(pgid) ? undefined : Date.now()), ms, `process group ${pgid} to end`);
}

/** The pilot's `--json` summary. */
export interface PilotSummaryJson {
  claimed: number;
  done: number;
  lost: number;
  tokens: { kind: string; token: string; reason?: string }[];
}

export function summaryOf(stdout: string): PilotSummaryJson {
  return JSON.parse(stdout) as PilotSummaryJson;
}
