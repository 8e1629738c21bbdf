import { describe, expect, it } from 'vitest';
import { findOverlaps } from '../../src/picas/overlap';

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

describe('findOverlaps', () => {
  const existing = [
    { id: 't_x_L1_SB100', subbands: range(100, 10) },
    { id: 't_x_L1_SB110', subbands: range(110, 10) },
  ];
  it('the same slices again are a re-run, not an overlap', () => {
    expect(findOverlaps(existing, existing)).toEqual([]);
  });
  it('another --per-token overlaps, by subband, even under an existing id', () => {
    const planned = [
      { id: 't_x_L1_SB100', subbands: range(100, 5) },
      { id: 't_x_L1_SB105', subbands: range(105, 5) },
      { id: 't_x_L1_SB120', subbands: range(120, 5) },
    ];
    expect(findOverlaps(planned, existing)).toEqual([
      { id: 't_x_L1_SB100', existing: 't_x_L1_SB100', subbands: range(100, 5) },
      { id: 't_x_L1_SB105', existing: 't_x_L1_SB100', subbands: range(105, 5) },
    ]);
  });
});
