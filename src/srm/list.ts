import { isLrtError, LrtError } from '../core';
import { type LinkKind, linkFor } from './links';
import type { SiteName } from './sites';
import { parseSurl, quoteLink, type Surl } from './surl';

/** Where an entry came from: the n-th add, and the file and line when read from a file. */
export interface Origin {
  readonly entry: number;
  readonly source?: string;
  readonly line?: number;
}

export interface ListEntry extends Surl {
  readonly origin: Origin;
}

export interface DroppedDuplicate {
  readonly surl: string;
  readonly origin: Origin;
  /** The entry that was kept. */
  readonly kept: Origin;
}

/** `srm.txt line 12`, `line 12` or `entry 3`. */
export function describeOrigin(origin: Origin): string {
  if (origin.line === undefined) return `${origin.source ? `${origin.source} ` : ''}entry ${origin.entry}`;
  return `${origin.source ? `${origin.source} ` : ''}line ${origin.line}`;
}

function originDetails(origin: Origin): Record<string, unknown> {
  return { source: origin.source, line: origin.line, entry: origin.entry };
}

/** Parses one link of a list; a bad link is E_SURL_LIST naming where it came from. */
export function parseListLink(link: string, origin: Origin): Surl {
  try {
    return parseSurl(link);
  } catch (err) {
    if (!isLrtError(err, 'E_SURL')) throw err;
    throw new LrtError('E_SURL_LIST', `${describeOrigin(origin)}: ${err.message}`, {
      cause: err,
      details: originDetails(origin),
    });
  }
}

/**
 * A list holds ONE observation at ONE LTA site: throws E_SURL_LIST naming the entry when `surl`
 * has no OBSID, or another OBSID or site than `first` (the list's first entry, if any).
 */
export function checkSameList(first: ListEntry | undefined, surl: Surl, origin: Origin): void {
  const where = describeOrigin(origin);
  if (!surl.obsid) {
    throw new LrtError('E_SURL_LIST', `${where}: no OBSID (L<digits>) in ${quoteLink(surl.given)}`, {
      details: originDetails(origin),
    });
  }
  if (!first) return;
  if (surl.obsid !== first.obsid) {
    throw new LrtError(
      'E_SURL_LIST',
      `Different OBSID than previous items: ${where} has ${surl.obsid}, the list holds ${first.obsid} ` +
        `(from ${describeOrigin(first.origin)})`,
      { details: { ...originDetails(origin), obsid: surl.obsid, expected: first.obsid } },
    );
  }
  if (surl.site !== first.site) {
    throw new LrtError(
      'E_SURL_LIST',
      `Different LTA site than previous items: ${where} is at ${surl.site}, the list is at ${first.site} ` +
        `(from ${describeOrigin(first.origin)})`,
      { details: { ...originDetails(origin), site: surl.site, expected: first.site } },
    );
  }
}

/**
 * An ordered list of SURLs of ONE observation at ONE LTA site, as GRID_LRT's srmlist: every add
 * checks the OBSID and the site against the first entry and drops duplicates. Entries are stored
 * as canonical SURLs in input order; links of every kind come out in that order.
 */
export class SurlList implements Iterable<ListEntry> {
  readonly #entries: ListEntry[] = [];
  readonly #bySurl = new Map<string, ListEntry>();
  readonly #duplicates: DroppedDuplicate[] = [];
  #adds = 0;

  /** A list of the given links (throws E_SURL_LIST at the first bad one). */
  static of(links: Iterable<string | Surl>, source?: string): SurlList {
    const list = new SurlList();
    for (const link of links) list.add(link, source === undefined ? {} : { source });
    return list;
  }

  get obsid(): string | undefined {
    return this.#entries[0]?.obsid;
  }

  get site(): SiteName | undefined {
    return this.#entries[0]?.site;
  }

  get size(): number {
    return this.#entries.length;
  }

  get entries(): readonly ListEntry[] {
    return this.#entries;
  }

  get duplicates(): readonly DroppedDuplicate[] {
    return this.#duplicates;
  }

  [Symbol.iterator](): Iterator<ListEntry> {
    return this.#entries[Symbol.iterator]();
  }

  surls(): string[] {
    return this.#entries.map((e) => e.surl);
  }

  /** Links of one kind, in input order (the Python tool returned them reversed). */
  links(kind: LinkKind): string[] {
    return this.#entries.map((e) => linkFor(e, kind));
  }

  /**
   * Adds a link (any form parseSurl takes). Returns the entry, or undefined when the SURL is
   * already in the list. Throws E_SURL_LIST naming the entry for a bad link, a missing OBSID,
   * or an OBSID or site that differs from the list's.
   */
  add(link: string | Surl, where: { source?: string; line?: number } = {}): ListEntry | undefined {
    this.#adds += 1;
    const origin: Origin = { entry: this.#adds, ...where };
    const surl = typeof link === 'string' ? parseListLink(link, origin) : link;
    checkSameList(this.#entries[0], surl, origin);
    const kept = this.#bySurl.get(surl.surl);
    if (kept) {
      this.#duplicates.push({ surl: surl.surl, origin, kept: kept.origin });
      return undefined;
    }
    const entry: ListEntry = { ...surl, origin };
    this.#entries.push(entry);
    this.#bySurl.set(entry.surl, entry);
    return entry;
  }
}
