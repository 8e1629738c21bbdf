import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

/** Sends `signal` to every process of the group. False when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    // EPERM: a member changed user (setuid helper); it exists, we just cannot signal it.
    if (code === 'EPERM') return true;
    throw err;
  }
}

/**
 * Process states of the group's members from /proc, or undefined without /proc (not Linux).
 * Zombies matter: where PID 1 does not reap orphans (some containers), a dead grandchild stays
 * a group member forever, and kill(-pgid, 0) keeps succeeding.
 */
function groupMemberStates(pgid: number): string[] | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const states: string[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0]) states.push(fields[0]);
  }
  return states;
}

/** True while some member of the group is still running (zombies do not count). */
export function groupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  const states = groupMemberStates(pgid);
  if (states === undefined) return true;
  return states.some((state) => state !== 'Z' && state !== 'X');
}

export interface TerminateOptions {
  /** Time between SIGTERM and SIGKILL. */
  graceMs: number;
  pollMs?: number;
}

/**
 * TERM to the whole process group, up to `graceMs` for it to go, then KILL. The group is the
 * payload's own (spawned detached), so background children it left behind go with it.
 * Resolves `killed: true` when KILL was needed.
 */
export async function terminateGroup(pgid: number, options: TerminateOptions): Promise<{ killed: boolean }> {
  const pollMs = options.pollMs ?? 100;
  if (!signalGroup(pgid, 'SIGTERM')) return { killed: false };
  const until = Date.now() + Math.max(0, options.graceMs);
  while (Date.now() < until) {
    await delay(Math.max(1, Math.min(pollMs, until - Date.now())));
    if (!groupAlive(pgid)) return { killed: false };
  }
  if (!groupAlive(pgid)) return { killed: false };
  signalGroup(pgid, 'SIGKILL');
  // KILL cannot be caught, but delivery is asynchronous: wait briefly so callers see the group gone.
  const settle = Date.now() + 2000;
  while (groupAlive(pgid) && Date.now() < settle) await delay(pollMs);
  return { killed: true };
}
