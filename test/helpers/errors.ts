import { isLrtError, type LrtError } from '../../src/core';

/** The LrtError a promise rejects with; anything else (or a resolve) fails the test. */
export async function failure(promise: Promise<unknown>): Promise<LrtError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isLrtError(err)) throw new Error(`expected an LrtError, got ${String(err)}`);
  return err;
}

/** The LrtError a call throws; anything else (or a return) fails the test. */
export function thrownBy(call: () => unknown): LrtError {
  try {
    call();
  } catch (err) {
    if (isLrtError(err)) return err;
    throw err;
  }
  throw new Error('expected an LrtError, the call returned');
}
