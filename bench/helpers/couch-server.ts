/**
 * An embedded CouchDB-API server in its own process for benchmarks, so the client under test and
 * the server do not share one event loop. Prints the URL with admin credentials as its first
 * line; stops on SIGTERM / SIGINT or when stdin closes (the parent died).
 */
import { startEmbeddedCouch } from '../../src/dbserver';

async function main(): Promise<void> {
  const server = await startEmbeddedCouch();
  process.stdout.write(`${server.urlWithCredentials}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
}

main().catch((err) => {
  process.stderr.write(`couch-server: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
