/**
 * A reader that goes away early (`lrt srm links F | head -3`) closes the pipe, and the next write
 * fails with EPIPE. Node reports that as an 'error' event, which kills the process with a stack
 * trace when nobody listens. A Unix tool ends quietly instead: `onClosedPipe` runs `then` on
 * EPIPE and leaves every other write error as fatal as it was.
 */
export function onClosedPipe(stream: NodeJS.WritableStream, then: () => void): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    then();
  });
}
