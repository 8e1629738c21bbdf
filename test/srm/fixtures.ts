import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const FIXTURES = join(__dirname, '../fixtures/srm');

export function fixturePath(name: string): string {
  return join(FIXTURES, name);
}

export function fixtureText(name: string): string {
  return readFileSync(fixturePath(name), 'utf8');
}

type Slices = Record<string, Record<string, string[]>>;
interface SiteLinks {
  surl: string;
  obsid: string;
  gsiftp: string;
  https: string;
  gfal: string;
  srm_from_gsiftp: string;
}

/** Values computed by the original Python srmlist (see fixtures/srm/SOURCES.md). */
export interface Expected {
  'srm_50_sara.txt': {
    obsid: string;
    lta_location: string;
    count: number;
    slices: Slices;
    gsi_links_python_order: string[];
    http_links_python_order: string[];
    gfal_links_python_order: string[];
  };
  'dysco_test.txt': { obsid: string; lta_location: string; count: number; slices: Slices };
  'cal1_srm_test.txt': {
    obsid: string;
    lta_location: string;
    count: number;
    slice_keys_10_with_suff_dot: string[];
  };
  per_site_single_link: Record<'sara' | 'juelich' | 'poznan', SiteLinks>;
  test_srmfile1: {
    obsid: string;
    lta_location: string;
    count: number;
    first: string;
    slice_keys_10: string[];
  };
  test_srmfile2: { obsid: string; lta_location: string; count_before_blank_line_error: number };
}

export const expected: Expected = JSON.parse(fixtureText('srmlist_expected.json'));

/** The non-blank lines of a fixture list, trimmed, in file order. */
export function fixtureLines(name: string): string[] {
  return fixtureText(name)
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}
