/**
 * What a grid proxy file holds, read from `openssl x509 -text` and `voms-proxy-info -all`. Pure:
 * checkProbes.ts runs the tools, check.ts gives the verdict. A grid job needs a proxy (a
 * certificate the user's certificate signed, RFC 3820 or the older Globus forms) carrying the
 * VO's VOMS attributes; a plain or self-signed certificate is no proxy at all.
 */

export type CertificateKind = 'rfc3820' | 'legacy' | 'draft' | 'self-signed' | 'plain';

/** The command that makes what a LOFAR pilot needs. */
export const VOMS_PROXY_INIT = 'voms-proxy-init --voms lofar:/lofar/user --valid 168:00';

/** RFC 3820 proxyCertInfo prints under its name; the GSI-3 draft one only by its OID. */
const DRAFT_PROXY_OID = '1.3.6.1.4.1.3536.1.222';

/** The kind of the first certificate in `openssl x509 -noout -subject -issuer -nameopt compat -text` output. */
export function certificateKind(opensslText: string): CertificateKind | undefined {
  const subject = /^subject=\s*(.*)$/m.exec(opensslText)?.[1]?.trim();
  const issuer = /^issuer=\s*(.*)$/m.exec(opensslText)?.[1]?.trim();
  if (!subject || !issuer) return undefined;
  if (/Proxy Certificate Information/.test(opensslText)) return 'rfc3820';
  if (opensslText.includes(DRAFT_PROXY_OID)) return 'draft';
  // Globus legacy proxies: the issuer's name plus /CN=proxy (or /CN=limited proxy).
  if (subject === `${issuer}/CN=proxy` || subject === `${issuer}/CN=limited proxy`) return 'legacy';
  return subject === issuer ? 'self-signed' : 'plain';
}

export interface VomsAttributes {
  vo: string;
  fqans: string[];
  /** Seconds the attribute certificate stays valid. */
  secondsLeft: number;
}

/** `voms-proxy-info -all`: one "=== VO <vo> extension information ===" section per VO. */
export function parseVomsInfo(text: string): VomsAttributes[] {
  const out: VomsAttributes[] = [];
  let current: VomsAttributes | undefined;
  for (const line of text.split('\n')) {
    const section = /^=== VO (\S+) extension information ===/.exec(line.trim());
    if (section) {
      current = { vo: section[1]!, fqans: [], secondsLeft: 0 };
      out.push(current);
      continue;
    }
    const field = /^(\w[\w ]*?)\s*:\s*(.*)$/.exec(line.trim());
    if (!current || !field) continue;
    if (field[1] === 'attribute') current.fqans.push(field[2]!);
    if (field[1] === 'timeleft') current.secondsLeft = hmsSeconds(field[2]!);
  }
  return out;
}

/** `HH:MM:SS` (hours may exceed 24) as seconds; anything else is 0. */
function hmsSeconds(text: string): number {
  const m = /^(\d+):(\d\d):(\d\d)$/.exec(text.trim());
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : 0;
}

export interface ProxyFacts {
  /** undefined: openssl could not read it (not checked). */
  kind: CertificateKind | undefined;
  /** undefined: voms-proxy-info not installed, failed (vomsProblem), or not asked (not a proxy). */
  voms: VomsAttributes[] | undefined;
  vomsProblem?: string;
}
