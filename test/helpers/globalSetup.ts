import type { TestProject } from 'vitest/node';
import { startEmbeddedCouch } from '../../src/dbserver';

declare module 'vitest' {
  export interface ProvidedContext {
    /** CouchDB-API base URL with admin credentials: COUCHDB_URL, or the embedded server. */
    couchUrl: string;
    couchKind: 'embedded' | 'external';
  }
}

/** One CouchDB-API server for the whole run; COUCHDB_URL points the suite at a real CouchDB instead. */
export default async function setup(project: TestProject) {
  const external = process.env.COUCHDB_URL;
  if (external) {
    project.provide('couchUrl', external.replace(/\/$/, ''));
    project.provide('couchKind', 'external');
    return;
  }
  const server = await startEmbeddedCouch();
  project.provide('couchUrl', server.urlWithCredentials);
  project.provide('couchKind', 'embedded');
  return () => server.close();
}
