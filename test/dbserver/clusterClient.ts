/*
 * Raw HTTP for the cluster stand-in's tests: the status code is what they are about (nano treats
 * 202 as success and does not show it). fetch refuses URLs with credentials, so they become a
 * Basic Authorization header.
 */

export interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: CouchDB answers are free-form JSON; tests read fields by name
  body: any;
}

export type Client = (method: string, path: string, body?: unknown, contentType?: string) => Promise<Answer>;

export function clientFor(urlWithCredentials: string): Client {
  const url = new URL(urlWithCredentials);
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  const authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  return async (method, path, body, contentType = 'application/json') => {
    const res = await fetch(`${url.origin}${path}`, {
      method,
      headers: { authorization, 'content-type': contentType, accept: 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
}

/** Polls `probe` until it returns something other than undefined, for at most `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
