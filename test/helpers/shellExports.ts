/**
 * `export NAME='value'` lines (single-quoted, '\'' for a quote), as `gridftp-testbed.sh env`
 * prints them, into a record. No vitest import: bench/ runs under tsx and uses it too.
 */
export function parseExportLines(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    const raw = m[2]!;
    vars[m[1]!] = raw.startsWith("'") ? raw.slice(1, -1).split("'\\''").join("'") : raw;
  }
  return vars;
}
