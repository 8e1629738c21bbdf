import { isIP } from 'node:net';

/**
 * Why worker nodes elsewhere cannot reach the PiCaS URL, or undefined when nothing is known
 * against it. Loopback, unspecified and link-local addresses name the node itself; a single-label
 * host name resolves only on the login node's own network, if at all.
 */
export function unreachableFromWorkers(url: string): string | undefined {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  } catch {
    return 'it is not a valid URL';
  }
  if (host === 'localhost' || host.endsWith('.localhost')) return `${host} is the node itself`;
  const family = isIP(host);
  if (family === 4) {
    if (host.startsWith('127.')) return `${host} is a loopback address`;
    if (host === '0.0.0.0') return `${host} is no address a worker can connect to`;
    if (host.startsWith('169.254.')) return `${host} is a link-local address`;
    return undefined;
  }
  if (family === 6) {
    if (host === '::1' || host === '::') return `${host} is the node itself`;
    if (/^fe[89ab]/.test(host)) return `${host} is a link-local address`;
    return undefined;
  }
  if (!host.includes('.')) return `${host} is a single-label host name, unknown outside this network`;
  return undefined;
}
