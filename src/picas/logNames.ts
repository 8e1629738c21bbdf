/** Names of the log attachments a pilot leaves on a token, one set per attempt. */
export type LogKind = 'stdout' | 'stderr' | 'pilot';

export const LOG_KINDS: readonly LogKind[] = ['stdout', 'stderr', 'pilot'];

export function logAttachmentName(attempt: number, kind: LogKind): string {
  return `attempt-${attempt}.${kind}.log`;
}

/** `attempt-3.stderr.log` -> {attempt: 3, kind: 'stderr'}; anything else -> undefined. */
export function parseLogAttachmentName(name: string): { attempt: number; kind: LogKind } | undefined {
  const match = /^attempt-(\d+)\.(stdout|stderr|pilot)\.log$/.exec(name);
  if (!match) return undefined;
  return { attempt: Number(match[1]), kind: match[2] as LogKind };
}
