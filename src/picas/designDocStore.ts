import { LrtError } from '../core';
import { couchError, type PicasDb, statusOf } from './client';
import { finishedDesignDoc, finishedDesignDocId } from './finishedViews';
import { writeSettled } from './protocol';
import {
  assertTokenType,
  claimDesignDocId,
  claimViews,
  conditionView,
  type DesignDoc,
  designDocId,
  mergeDesignDoc,
  standardViews,
  type ViewSource,
} from './viewDefinitions';

const MAX_ATTEMPTS = 8;

/**
 * Makes sure the database exists. A GET first, so that ordinary PiCaS users (members, not server
 * admins) never send a PUT they may not make; PUT only on 404, where 412 means someone else just
 * created it.
 */
export async function ensureDatabase(picas: PicasDb): Promise<'exists' | 'created'> {
  try {
    await picas.server.db.get(picas.name);
    return 'exists';
  } catch (err) {
    if (statusOf(err) !== 404) throw couchError(picas, `open database ${picas.name}`, err);
  }
  try {
    await picas.server.db.create(picas.name);
    return 'created';
  } catch (err) {
    const status = statusOf(err);
    if (status === 412) return 'exists';
    if (status === 401 || status === 403) {
      const who = picas.settings.user ? `user "${picas.settings.user}"` : 'an anonymous client';
      throw new LrtError(
        'E_DB_FORBIDDEN',
        `database ${picas.name} does not exist on ${picas.settings.url} and ${who} may not create it ` +
          `(HTTP ${status}): ask the server admin to create it, or check PICAS_DB`,
        { details: { database: picas.name, url: picas.settings.url, status } },
      );
    }
    throw couchError(picas, `create database ${picas.name}`, err);
  }
}

/** Throws E_DB_NOT_FOUND when the database is missing; used to explain a 404 on a document. */
export async function assertDatabaseExists(picas: PicasDb): Promise<void> {
  try {
    await picas.server.db.get(picas.name);
  } catch (err) {
    if (statusOf(err) === 404) {
      throw new LrtError('E_DB_NOT_FOUND', `database ${picas.name} does not exist on ${picas.settings.url}`, {
        details: { database: picas.name, url: picas.settings.url },
      });
    }
    throw couchError(picas, `open database ${picas.name}`, err);
  }
}

export function readDesignDoc(picas: PicasDb, type: string): Promise<DesignDoc | undefined> {
  assertTokenType(type);
  return readDesignDocById(picas, designDocId(type));
}

/** `_design/finished:<type>` (finishedViews.ts), undefined when no tool wrote it yet. */
export function readFinishedDesignDoc(picas: PicasDb, type: string): Promise<DesignDoc | undefined> {
  return readDesignDocById(picas, finishedDesignDocId(type));
}

/** The claim's design document of a type (`_design/claim:<type>`), undefined when missing. */
export function readClaimDesignDoc(picas: PicasDb, type: string): Promise<DesignDoc | undefined> {
  return readDesignDocById(picas, claimDesignDocId(type));
}

/** A design document by its full id, undefined when missing. */
export async function readDesignDocById(picas: PicasDb, id: string): Promise<DesignDoc | undefined> {
  try {
    return (await picas.db.get(id)) as unknown as DesignDoc;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw couchError(picas, `read ${id}`, err);
  }
}

export interface DesignDocUpdate {
  id: string;
  /** False when the stored document already had what was asked: nothing was written. */
  changed: boolean;
  rev: string | undefined;
}

/**
 * Read, change, write with the read `_rev`; on 409 someone else wrote in between, so read and
 * apply the change again. `change` returns undefined when there is nothing to write.
 */
async function updateDesignDoc(
  picas: PicasDb,
  id: string,
  change: (existing: DesignDoc | undefined) => DesignDoc | undefined,
): Promise<DesignDocUpdate> {
  for (let attempt = 1; ; attempt++) {
    const existing = await readDesignDocById(picas, id);
    const next = change(existing);
    if (!next) return { id, changed: false, rev: existing?._rev };
    try {
      return { id, changed: true, rev: await writeSettled(picas, next) };
    } catch (err) {
      if (statusOf(err) === 409 && attempt < MAX_ATTEMPTS) continue;
      throw couchError(picas, `write ${id} in ${picas.name}`, err);
    }
  }
}

export interface EnsuredDesignDocs extends DesignDocUpdate {
  /** The claim's design document, `_design/claim:<type>` (claimViews). */
  claim: DesignDocUpdate;
}

/**
 * Creates or updates `_design/<type>` so that every standard view (plus `extraViews`) exists with
 * the current source, then the claim's `_design/claim:<type>` (claimViews) and
 * `_design/finished:<type>` with the finished views. Custom views already there stay. A second call
 * writes nothing. They are written apart: on CouchDB a change to a design document rebuilds all its
 * views, so a new or changed claim or finished view leaves `todo` as it is.
 */
export async function ensureDesignDoc(
  picas: PicasDb,
  type: string,
  extraViews: Record<string, ViewSource> = {},
): Promise<EnsuredDesignDocs> {
  const wanted = { ...standardViews(type), ...extraViews };
  const id = designDocId(type);
  const typeDoc = await updateDesignDoc(picas, id, (existing) => mergeDesignDoc(id, existing, wanted));
  const claimId = claimDesignDocId(type);
  const claimWanted = claimViews(type);
  const claim = await updateDesignDoc(picas, claimId, (existing) =>
    mergeDesignDoc(claimId, existing, claimWanted),
  );
  await ensureFinishedViews(picas, type);
  return { ...typeDoc, claim };
}

/**
 * `_design/finished:<type>` as finishedViews.ts defines it (a design document grid-lrt owns whole:
 * other views in it are replaced). Its own index: writing it never touches `_design/<type>`'s.
 */
export function ensureFinishedViews(picas: PicasDb, type: string): Promise<DesignDocUpdate> {
  assertTokenType(type);
  return updateDesignDoc(
    picas,
    finishedDesignDocId(type),
    (existing) => finishedDesignDoc(type, existing) as DesignDoc | undefined,
  );
}

const VIEW_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

export function assertViewName(name: string): void {
  if (!VIEW_NAME.test(name)) {
    throw new LrtError(
      'E_USAGE',
      `invalid view name "${name}": use letters, digits and '_', starting with a letter`,
    );
  }
}

/**
 * Parses (never runs) the condition as a JavaScript expression, alone and inside the map function
 * it goes into (a `//` comment would swallow the closing brackets there). On CouchDB every view of
 * a design document shares one index, so a broken custom view would break `todo` for the pilots.
 */
export function assertCondition(type: string, condition: string): ViewSource {
  if (condition.trim() === '') throw new LrtError('E_USAGE', 'the view condition is empty');
  const view = conditionView(type, condition);
  try {
    new Function('doc', `return (${condition}\n);`);
    new Function(`return (${view.map}\n);`);
  } catch (err) {
    throw new LrtError(
      'E_USAGE',
      `the view condition ${JSON.stringify(condition)} is not a JavaScript expression: ${(err as Error).message}`,
    );
  }
  return view;
}

export interface AddViewResult extends DesignDocUpdate {
  view: string;
  /** True when a custom view of that name existed with another condition. */
  replaced: boolean;
}

/**
 * Adds a custom view: the tokens of this type for which `condition` (on `doc`) holds, rows keyed
 * and valued by the token id like the status views. A standard view name (`todo`, `locked`, ...)
 * is refused: replacing it would change what the pilots claim. A custom view of the same name is
 * replaced, as GRID_LRT's add_view did.
 */
export async function addView(
  picas: PicasDb,
  type: string,
  name: string,
  condition: string,
): Promise<AddViewResult> {
  assertTokenType(type);
  assertViewName(name);
  const source = assertCondition(type, condition);
  if (name in standardViews(type)) {
    throw new LrtError(
      'E_USAGE',
      `view "${name}" is a standard view of every token type and cannot be redefined: pick another name`,
    );
  }
  let replaced = false;
  const id = designDocId(type);
  const update = await updateDesignDoc(picas, id, (existing) => {
    const current = existing?.views?.[name];
    replaced = current !== undefined && current.map !== source.map;
    // A new design doc gets the standard views too: a custom view alone would leave pilots without `todo`.
    const wanted = existing ? { [name]: source } : { ...standardViews(type), [name]: source };
    return mergeDesignDoc(id, existing, wanted);
  });
  return { ...update, view: name, replaced };
}

/**
 * Removes every view, standard and custom, from `_design/<type>` (GRID_LRT's clear_all_views),
 * and the claim's views from `_design/claim:<type>`, so that no pilot claims until they are back.
 */
export async function clearViews(
  picas: PicasDb,
  type: string,
): Promise<DesignDocUpdate & { removed: string[]; claimRemoved: string[] }> {
  const emptyViews = async (id: string) => {
    let removed: string[] = [];
    const update = await updateDesignDoc(picas, id, (existing) => {
      removed = Object.keys(existing?.views ?? {});
      if (!existing || removed.length === 0) return undefined;
      return { ...existing, views: {} };
    });
    return { update, removed };
  };
  const typeDoc = await emptyViews(designDocId(type));
  const claim = await emptyViews(claimDesignDocId(type));
  return { ...typeDoc.update, removed: typeDoc.removed, claimRemoved: claim.removed };
}

export interface ViewInfo {
  name: string;
  standard: boolean;
  reduce: boolean;
  map: string;
}

/** The views of `_design/<type>`, standard ones first; empty when the design doc is missing. */
export async function listViews(picas: PicasDb, type: string): Promise<ViewInfo[]> {
  const doc = await readDesignDoc(picas, type);
  const standard = standardViews(type);
  return Object.entries(doc?.views ?? {})
    .map(([name, view]) => ({
      name,
      standard: name in standard,
      reduce: Boolean(view.reduce),
      map: view.map,
    }))
    .sort(
      (a, b) => Number(b.standard) - Number(a.standard) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
}
