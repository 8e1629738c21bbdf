import { describe, expect, it } from 'vitest';
import { CONFLICT_ROUNDS, nextConflictRound } from '../../src/picas/conflictRounds';

describe('conflict rounds', () => {
  it('answers false once the rounds are spent, without waiting', async () => {
    let drawn = 0;
    const rng = () => {
      drawn++;
      return 0;
    };
    expect(await nextConflictRound(CONFLICT_ROUNDS, rng)).toBe(false);
    expect(await nextConflictRound(CONFLICT_ROUNDS + 1, rng)).toBe(false);
    expect(drawn).toBe(0);
  });

  it('retries every round before the last, drawing one jittered wait each', async () => {
    let drawn = 0;
    const rng = () => {
      drawn++;
      return 0;
    };
    for (let round = 1; round < CONFLICT_ROUNDS; round++)
      expect(await nextConflictRound(round, rng)).toBe(true);
    expect(drawn).toBe(CONFLICT_ROUNDS - 1);
  });
});
