import { EventEmitter } from 'node:events';

/** What a pilot reports while it works; the logger and the status display subscribe. */
export interface PilotEventMap {
  claimed: [{ token: string; leaseId: string; attempt: number; reclaimed: boolean }];
  phase: [{ token: string; phase: string }];
  heartbeat: [{ token: string; phase: string; status?: string; progress?: number }];
  finished: [{ token: string; ok: boolean; exitCode: number; phase: string; durationMs: number }];
  released: [{ token: string; reason: string }];
  lost: [{ token: string; reason: string }];
  /** The final write failed for good (database away): the lease expires and another pilot retries. */
  unrecorded: [{ token: string; reason: string }];
  idle: [{ waitingMs: number }];
}

export class PilotEvents extends EventEmitter<PilotEventMap> {}
