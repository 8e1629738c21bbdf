import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

/** A self-signed certificate and its key (PEM files in `dir`) made by the real openssl. */
export async function selfSignedCert(
  dir: string,
  options: { subject: string; days?: number; extensions?: string[] },
): Promise<{ key: string; cert: string }> {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  const extensions = (options.extensions ?? []).flatMap((ext) => ['-addext', ext]);
  await execa('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    String(options.days ?? 1),
    '-subj',
    options.subject,
    ...extensions,
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  return { key, cert };
}

/** A certificate for an https server on 127.0.0.1: key and certificate as PEM bytes. */
export async function localhostCert(dir: string): Promise<{ key: Buffer; cert: Buffer }> {
  const files = await selfSignedCert(dir, {
    subject: '/CN=127.0.0.1',
    extensions: ['subjectAltName=IP:127.0.0.1'],
  });
  return { key: await readFile(files.key), cert: await readFile(files.cert) };
}
