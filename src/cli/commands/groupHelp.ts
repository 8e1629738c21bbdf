/**
 * What `lrt GROUP --help` says about a group besides its commands: facts every command of the
 * group relies on. Keep it in step with docs/token-format.md (views) and README.md.
 */
export const GROUP_HELP: Record<string, string> = {
  tokens: `Token states. The views (and so the counts of 'lrt status' and 'tokens overview') go by the
lock and done fields (and the status staging), not by any other status text:
  todo      free (lock=0, done=0): the next pilot may claim it. Its status says whatever created
            it wrote: "todo", or a config's own word such as "queued"; it is counted as todo.
  staging   free but waiting for its data to come online from tape ('tokens create --stage');
            'lrt stage release' makes it todo.
  locked    claimed by a pilot (lock>0, done=0). While it runs, status shows the pilot's phase
            (sandbox, inputs, downloading, running, uploading) or the payload's own status line,
            and 'lrt status' counts it under that phase.
  done      finished with exit code 0 (done>0, status done).
  error     finished with another exit code (done>0, status error), or given up after its lease
            expired too often. 'lrt status' shows the code's meaning and the end of its stderr.
A claimed token whose lease ran out (its pilot died) is taken over by the next pilot, or reset
with 'lrt tokens reset --view locked'.`,
};
