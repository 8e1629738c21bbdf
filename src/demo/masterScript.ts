/**
 * master.sh of the demo sandbox. It does visible, checkable work on the token's srm.txt the way a
 * LOFAR sandbox does: reads its inputs from the environment the pilot builds, reports progress
 * through $PILOT_STATUS_FILE, lists what the pilot staged into Input/ (if anything), writes
 * results to Output/ and, when DEMO_LEDGER is set, appends its
 * token id to that file (so a run can prove every token was processed exactly once).
 */
export const DEMO_MASTER_SH = `#!/usr/bin/env bash
set -euo pipefail
: "\${TOKEN:?TOKEN missing}"
SRM="\${SRMFILE:-srm.txt}"
if [ ! -s "$SRM" ]; then echo "no srm file $SRM" >&2; exit 20; fi
mkdir -p Output
if [ -d Input ]; then
  for f in Input/*; do printf '%s %s bytes\\n' "\${f##*/}" "$(wc -c < "$f")" >> Output/inputs.txt; done
  echo "staged in by the pilot: $(ls Input | wc -l) files"
fi
total=$(grep -c . "$SRM" || true)
n=0
echo "token $TOKEN: $total files of observation \${OBSID:-unknown}, start subband \${STARTSB:-?}"
while IFS= read -r surl; do
  [ -n "$surl" ] || continue
  n=$((n + 1))
  name=\${surl##*/}
  sb=$(printf '%s' "$name" | sed -n 's/.*_SB\\([0-9]*\\)_.*/\\1/p')
  sum=$(printf '%s' "$surl" | cksum | cut -d' ' -f1)
  printf '%s SB%s checksum=%s\\n' "$name" "\${sb:-?}" "$sum" >> Output/summary.txt
  echo "processing $n/$total" > "\${PILOT_STATUS_FILE:-pipeline_status}"
  echo "[$n/$total] $name"
  sleep "\${DEMO_SLEEP:-0.05}"
done < "$SRM"
if [ "\${DEMO_FAIL_SB:-}" != "" ] && [ "\${STARTSB:-}" = "$DEMO_FAIL_SB" ]; then
  echo "demo failure requested for subband $DEMO_FAIL_SB" >&2
  exit 99
fi
if [ -n "\${DEMO_LEDGER:-}" ]; then echo "$TOKEN" >> "$DEMO_LEDGER"; fi
echo "done: $n files" 
`;
