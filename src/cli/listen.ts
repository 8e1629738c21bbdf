import { LrtError } from '../core';

/**
 * Why a server of `lrt serve` or `lrt db serve` could not listen, in the words of its flags (Node
 * says `listen EADDRINUSE: address already in use 127.0.0.1:8080`). Other errors pass unchanged.
 */
export function listenError(err: unknown, host: string): unknown {
  const { code, port } = err as NodeJS.ErrnoException & { port?: number };
  const where = port === undefined ? host : `${host}:${port}`;
  const why =
    code === 'EADDRINUSE'
      ? 'the port is in use; pick another --port (0 picks a free one)'
      : code === 'EACCES'
        ? 'ports below 1024 need root; pick another --port'
        : undefined;
  if (why) return new LrtError('E_IO', `cannot listen on ${where}: ${why}`, { cause: err });
  if (code === 'ENOTFOUND' || code === 'EADDRNOTAVAIL') {
    return new LrtError('E_USAGE', `cannot listen on ${host}: --host ${host} is no address of this machine`, {
      cause: err,
    });
  }
  return err;
}
