import { isLrtError, LrtError } from '../core';
import { couchError, type PicasDb, statusOf } from './client';
import { nextConflictRound } from './conflictRounds';
import { finishedDesignDoc, finishedDesignDocId } from './finishedViews';
import { type BuiltIndex, buildIndex, type IndexProgress } from './indexBuild';
import { writeSettled } from './protocol';
import {
  assertTokenType,
  claimDesignDocId,
  claimViews,
  conditionView,
  customDesignDocId,
  type DesignDoc,
  designDocId,
  mergeDesignDoc,
  stagingDesignDocId,
  standardViews,
  type ViewSource,
} from './viewDefinitions';

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

/** The custom views' design document of a type (`_design/views:<type>`), undefined when missing. */
export function readCustomDesignDoc(picas: PicasDb, type: string): Promise<DesignDoc | undefined> {
  return readDesignDocById(picas, customDesignDocId(type));
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
  for (let round = 1; ; round++) {
    const existing = await readDesignDocById(picas, id);
    const next = change(existing);
    if (!next) return { id, changed: false, rev: existing?._rev };
    try {
      return { id, changed: true, rev: await writeSettled(picas, next) };
    } catch (err) {
      if (statusOf(err) === 409 && (await nextConflictRound(round))) continue;
      throw couchError(picas, `write ${id} in ${picas.name}`, err);
    }
  }
}

export interface EnsuredDesignDocs extends ViewsUpdate {
  /** The claim's design document, `_design/claim:<type>` (claimViews). */
  claim: ViewsUpdate;
}

/**
 * Creates or updates `_design/<type>` so that every standard view (plus `extraViews`) exists with
 * the current source, then the claim's `_design/claim:<type>` (claimViews) and
 * `_design/finished:<type>` with the finished views. Other views already there stay. A second call
 * writes nothing. They are written apart: on CouchDB a change to a design document rebuilds all its
 * views, so a new or changed claim or finished view leaves `todo` as it is; and a document already
 * in service (a newer grid-lrt changing a view source) is changed through a staged copy whose index
 * is built first (setViewsWithoutStall), so the pilots never wait for it.
 */
export async function ensureDesignDoc(
  picas: PicasDb,
  type: string,
  extraViews: Record<string, ViewSource> = {},
): Promise<EnsuredDesignDocs> {
  const wanted = { ...standardViews(type), ...extraViews };
  const id = designDocId(type);
  const noBuild = { build: false };
  const typeDoc = await setViewsWithoutStall(
    picas,
    id,
    (existing) => mergeDesignDoc(id, existing, wanted)?.views,
    noBuild,
  );
  const claimId = claimDesignDocId(type);
  const claimWanted = claimViews(type);
  const claim = await setViewsWithoutStall(
    picas,
    claimId,
    (existing) => mergeDesignDoc(claimId, existing, claimWanted)?.views,
    noBuild,
  );
  await ensureFinishedViews(picas, type);
  return { ...typeDoc, claim };
}

/**
 * `_design/finished:<type>` as finishedViews.ts defines it (a design document grid-lrt owns whole:
 * other views in it are replaced). Its own index: writing it never touches `_design/<type>`'s.
 */
export function ensureFinishedViews(picas: PicasDb, type: string): Promise<ViewsUpdate> {
  assertTokenType(type);
  return setViewsWithoutStall(
    picas,
    finishedDesignDocId(type),
    (existing) => finishedDesignDoc(type, existing)?.views,
    { build: false },
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

export interface ViewChangeOptions {
  /** Progress of each index build (`lrt views add` draws it). */
  onProgress?: (progress: IndexProgress & { designDoc: string }) => void;
  signal?: AbortSignal;
  /**
   * Build the changed document's index before returning (default true). False: only a staged
   * copy is built (a document in service is never changed before its new index is ready).
   */
  build?: boolean;
}

export interface ViewsUpdate extends DesignDocUpdate {
  /** The index builds this took (a staging copy first when the design doc was in service). */
  builds: BuiltIndex[];
}

/** The first view of a design document that has a map function. */
function viewToBuild(views: Record<string, ViewSource>): string | undefined {
  return Object.keys(views).find((name) => typeof views[name]?.map === 'string');
}

/**
 * The views to read so that the new index is built: on CouchDB any one builds the whole index of
 * the document; the embedded server indexes each view apart, so every new or changed view is read
 * (the first read pays on CouchDB, the others answer at once). A removal changes no view: the first.
 */
function viewsToBuild(views: Record<string, ViewSource>, before: DesignDoc | undefined): string[] {
  const changed = Object.keys(views).filter((name) => {
    const view = views[name];
    const old = before?.views?.[name];
    return typeof view?.map === 'string' && (old?.map !== view.map || old?.reduce !== view.reduce);
  });
  const first = viewToBuild(views);
  return changed.length > 0 ? changed : first ? [first] : [];
}

async function buildDesignDocIndex(
  picas: PicasDb,
  id: string,
  viewNames: string[],
  options: ViewChangeOptions,
): Promise<BuiltIndex[]> {
  const name = id.replace(/^_design\//, '');
  const built: BuiltIndex[] = [];
  for (const view of viewNames) {
    built.push(
      await buildIndex(picas, name, view, {
        signal: options.signal,
        onProgress: (progress) => options.onProgress?.({ ...progress, designDoc: id }),
      }),
    );
  }
  return built;
}

/**
 * Gives `_design/<...>` (id) the views `change` returns, without taking its index away from its
 * readers (docs/couchdb-rules.md, rule 16). CouchDB names an index by a hash of the views, language
 * and options of a design document, not by its id: so when the document already serves views, the
 * new views are first written to a staging copy (stagingDesignDocId) and its index is built while
 * the old one still answers; then the document takes exactly those views (same order, language and
 * options: the same index, already built), and the staging copy is deleted. On the embedded server
 * views are indexed one by one and the swap costs nothing. `change` returns undefined for "no change".
 */
async function setViewsWithoutStall(
  picas: PicasDb,
  id: string,
  change: (existing: DesignDoc | undefined) => Record<string, ViewSource> | undefined,
  options: ViewChangeOptions,
): Promise<ViewsUpdate> {
  const builds: BuiltIndex[] = [];
  for (let round = 1; ; round++) {
    const existing = await readDesignDocById(picas, id);
    const views = change(existing);
    if (!views) return { id, changed: false, rev: existing?._rev, builds };
    const inService = Object.keys(existing?.views ?? {}).length > 0 && viewToBuild(views) !== undefined;
    const staging = stagingDesignDocId(id);
    if (inService) {
      const shape = {
        language: existing?.language ?? 'javascript',
        ...(existing?.options !== undefined ? { options: existing.options } : {}),
      };
      try {
        await updateDesignDoc(picas, staging, (current) => ({
          ...(current?._rev ? { _rev: current._rev } : {}),
          _id: staging,
          ...shape,
          views,
        }));
      } catch (err) {
        // Other writers of the same document stage theirs: one of them lands first; read again.
        if (isLrtError(err, 'E_CONFLICT') && (await nextConflictRound(round))) continue;
        throw err;
      }
      try {
        builds.push(...(await buildDesignDocIndex(picas, staging, viewsToBuild(views, existing), options)));
      } catch (err) {
        // Another writer of the same document replaced or removed the copy: go on, at worst the
        // document's own index is built below while its readers wait.
        if (!isLrtError(err, 'E_VIEW_NOT_FOUND') && statusOf(err) !== 404) throw err;
      }
    }
    const next = {
      ...(existing ?? {}),
      _id: id,
      language: existing?.language ?? 'javascript',
      views,
    } as DesignDoc;
    let rev: string | undefined;
    try {
      rev = await writeSettled(picas, next);
    } catch (err) {
      if (statusOf(err) === 409 && (await nextConflictRound(round))) continue;
      throw couchError(picas, `write ${id} in ${picas.name}`, err);
    }
    if (inService) await deleteDesignDocById(picas, staging);
    if (options.build !== false) {
      builds.push(...(await buildDesignDocIndex(picas, id, viewsToBuild(views, existing), options)));
    }
    return { id, changed: true, rev, builds };
  }
}

/** Deletes a design document (409: read again); 'absent' when there is none. */
export async function deleteDesignDocById(picas: PicasDb, id: string): Promise<'deleted' | 'absent'> {
  for (let round = 1; ; round++) {
    const doc = await readDesignDocById(picas, id);
    if (!doc?._rev) return 'absent';
    try {
      await writeSettled(picas, { _id: id, _rev: doc._rev, _deleted: true });
      return 'deleted';
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) return 'absent';
      if (status !== 409 || !(await nextConflictRound(round))) throw couchError(picas, `delete ${id}`, err);
    }
  }
}

/** The custom views (not grid-lrt's standard ones) still in `_design/<type>`, where older versions put them. */
function legacyCustomViews(type: string, typeDoc: DesignDoc | undefined): Record<string, ViewSource> {
  const standard = standardViews(type);
  return Object.fromEntries(Object.entries(typeDoc?.views ?? {}).filter(([name]) => !(name in standard)));
}

export interface AddViewResult extends ViewsUpdate {
  view: string;
  /** True when a custom view of that name existed with another condition. */
  replaced: boolean;
  /** Custom views older versions left in `_design/<type>` (`lrt views migrate` moves them). */
  legacy: string[];
}

/**
 * Adds a custom view to `_design/views:<type>`: the tokens of this type for which `condition` (on
 * `doc`) holds, rows keyed and valued by the token id like the status views. `_design/<type>`
 * (`todo`) and `_design/claim:<type>` are not touched, so the pilots' index stays as it is; the
 * other custom views keep answering while the new index is built (setViewsWithoutStall), and it
 * is built before this returns. A standard view name (`todo`, `locked`, ...) is refused; a custom
 * view of the same name is replaced, as GRID_LRT's add_view did.
 */
export async function addView(
  picas: PicasDb,
  type: string,
  name: string,
  condition: string,
  options: ViewChangeOptions = {},
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
  const update = await setViewsWithoutStall(
    picas,
    customDesignDocId(type),
    (existing) => {
      const current = existing?.views?.[name];
      replaced = current !== undefined && current.map !== source.map;
      if (current && current.map === source.map && !current.reduce) return undefined;
      return { ...(existing?.views ?? {}), [name]: source };
    },
    options,
  );
  const legacy = Object.keys(legacyCustomViews(type, await readDesignDoc(picas, type)));
  return { ...update, view: name, replaced, legacy };
}

export interface RemoveViewResult extends ViewsUpdate {
  view: string;
  /** Where it was removed from: `_design/views:<type>`, or `_design/<type>` (an older version's). */
  from: string | undefined;
}

/**
 * Removes a custom view: from `_design/views:<type>`, else from `_design/<type>` where an older
 * version put it (that one through a staged copy, so `todo` keeps answering while CouchDB builds
 * the index without it). Standard views are refused; an unknown name is E_VIEW_NOT_FOUND.
 */
export async function removeView(
  picas: PicasDb,
  type: string,
  name: string,
  options: ViewChangeOptions = {},
): Promise<RemoveViewResult> {
  assertTokenType(type);
  assertViewName(name);
  if (name in standardViews(type)) {
    throw new LrtError(
      'E_USAGE',
      `view "${name}" is a standard view of every token type and cannot be removed`,
    );
  }
  const without = (existing: DesignDoc | undefined) => {
    if (!existing?.views?.[name]) return undefined;
    const { [name]: _gone, ...rest } = existing.views;
    return rest;
  };
  for (const id of [customDesignDocId(type), designDocId(type)]) {
    const update = await setViewsWithoutStall(picas, id, without, options);
    if (update.changed) return { ...update, view: name, from: id };
  }
  throw new LrtError(
    'E_VIEW_NOT_FOUND',
    `custom view "${name}" of type ${type} not found in ${customDesignDocId(type)} or ${designDocId(type)} of database ${picas.name}`,
    { details: { database: picas.name, type, view: name } },
  );
}

export interface MigrateResult {
  /** Custom views moved from `_design/<type>` to `_design/views:<type>`. */
  moved: string[];
  /** Of those, views `_design/views:<type>` already had under the same name (its own kept). */
  shadowed: string[];
  custom: ViewsUpdate;
  typeDoc: ViewsUpdate;
}

/**
 * Moves the custom views an older version kept in `_design/<type>` to `_design/views:<type>`,
 * without a stall: the new design document is written and its index built first (readers find
 * the views there from then on), and only then are they removed from `_design/<type>`, through a
 * staged copy whose index is built while `todo` keeps answering from the old one. That copy is a
 * second build of the type's standard views: on a million tokens it takes as long as their first.
 */
export async function migrateCustomViews(
  picas: PicasDb,
  type: string,
  options: ViewChangeOptions = {},
): Promise<MigrateResult> {
  assertTokenType(type);
  const legacy = legacyCustomViews(type, await readDesignDoc(picas, type));
  const moved = Object.keys(legacy);
  const shadowed: string[] = [];
  const custom = await setViewsWithoutStall(
    picas,
    customDesignDocId(type),
    (existing) => {
      shadowed.length = 0;
      const views = { ...(existing?.views ?? {}) };
      let changed = false;
      for (const [name, source] of Object.entries(legacy)) {
        // A view of that name in the new place was added after the old one: it is the one readers use.
        if (views[name]) shadowed.push(name);
        else {
          views[name] = source;
          changed = true;
        }
      }
      return changed ? views : undefined;
    },
    options,
  );
  const typeDoc = await setViewsWithoutStall(
    picas,
    designDocId(type),
    (existing) => {
      const views = Object.fromEntries(
        Object.entries(existing?.views ?? {}).filter(([name]) => !(name in legacy)),
      );
      return Object.keys(views).length === Object.keys(existing?.views ?? {}).length ? undefined : views;
    },
    options,
  );
  return { moved, shadowed, custom, typeDoc };
}

export interface ClearViewsResult extends DesignDocUpdate {
  /** Views removed from `_design/views:<type>` (and with `all`, `_design/<type>`'s). */
  removed: string[];
  /** Custom views removed from `_design/<type>`, where older versions put them. */
  legacyRemoved: string[];
  /** With `all`: the claim's views removed from `_design/claim:<type>`. */
  claimRemoved: string[];
}

/**
 * Removes the custom views of a type: `_design/views:<type>` is emptied (its index serves nobody
 * else), and custom views an older version left in `_design/<type>` are removed through a staged
 * copy (setViewsWithoutStall), so `todo` keeps answering. With `all`, GRID_LRT's clear_all_views:
 * every view, standard ones and the claim's too, so that no pilot claims until they are back.
 */
export async function clearViews(
  picas: PicasDb,
  type: string,
  options: ViewChangeOptions & { all?: boolean } = {},
): Promise<ClearViewsResult> {
  assertTokenType(type);
  const emptyViews = async (id: string) => {
    let removed: string[] = [];
    const update = await updateDesignDoc(picas, id, (existing) => {
      removed = Object.keys(existing?.views ?? {});
      if (!existing || removed.length === 0) return undefined;
      return { ...existing, views: {} };
    });
    return { update, removed };
  };
  const custom = await emptyViews(customDesignDocId(type));
  if (options.all) {
    const typeDoc = await emptyViews(designDocId(type));
    const claim = await emptyViews(claimDesignDocId(type));
    const removed = [...typeDoc.removed, ...custom.removed];
    return { ...typeDoc.update, removed, legacyRemoved: [], claimRemoved: claim.removed };
  }
  let legacyRemoved: string[] = [];
  const typeDoc = await setViewsWithoutStall(
    picas,
    designDocId(type),
    (existing) => {
      const legacy = legacyCustomViews(type, existing);
      legacyRemoved = Object.keys(legacy);
      if (legacyRemoved.length === 0) return undefined;
      return Object.fromEntries(Object.entries(existing?.views ?? {}).filter(([name]) => !(name in legacy)));
    },
    options,
  );
  const { builds: _builds, ...typeUpdate } = typeDoc;
  const update = custom.update.changed ? custom.update : typeUpdate;
  return { ...update, removed: custom.removed, legacyRemoved, claimRemoved: [] };
}

export interface ViewInfo {
  name: string;
  standard: boolean;
  reduce: boolean;
  map: string;
  /** Where it is: `_design/<type>`, or `_design/views:<type>` for custom views. */
  designDoc: string;
}

/**
 * The views of `_design/<type>` and the custom ones of `_design/views:<type>`, standard ones first
 * (a custom name in both places is listed from `_design/views:<type>`, which readers use);
 * empty when neither exists.
 */
export async function listViews(picas: PicasDb, type: string): Promise<ViewInfo[]> {
  const standard = standardViews(type);
  const info =
    (designDoc: string) =>
    ([name, view]: [string, ViewSource]): ViewInfo => ({
      name,
      standard: name in standard,
      reduce: Boolean(view.reduce),
      map: view.map,
      designDoc,
    });
  const custom = Object.entries((await readCustomDesignDoc(picas, type))?.views ?? {}).map(
    info(customDesignDocId(type)),
  );
  const customNames = new Set(custom.map((v) => v.name));
  const typeViews = Object.entries((await readDesignDoc(picas, type))?.views ?? {})
    .map(info(designDocId(type)))
    .filter((v) => !customNames.has(v.name));
  return [...typeViews, ...custom].sort(
    (a, b) => Number(b.standard) - Number(a.standard) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
}
