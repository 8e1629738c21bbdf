import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tokensFromSlices } from '../../src/picas/create';
import type { NewToken } from '../../src/picas/tokens';
import { chunksToRecord, parseSurlListText, sliceBySubband } from '../../src/srm';

export const LIST_TEXT = readFileSync(join(__dirname, '../fixtures/staging/srm_50_sara.txt'), 'utf8');
export const SURLS = LIST_TEXT.split('\n').filter(Boolean);

/** The tokens `lrt tokens create --srm srm_50_sara.txt --per-token N` plans, as NewTokens. */
export function plannedTokens(type: string, perToken = 10): NewToken[] {
  const list = parseSurlListText(LIST_TEXT, 'srm_50_sara.txt');
  return tokensFromSlices(type, chunksToRecord(sliceBySubband(list, perToken)), { obsid: list.obsid });
}
