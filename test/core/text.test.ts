import { describe, expect, it } from 'vitest';
import { closestName } from '../../src/core';

describe('closestName', () => {
  const sections = ['Token', 'Job', 'variables', 'container', 'sandbox', 'upload'];
  it('finds the name meant by a swap, a missing or extra letter, or another case', () => {
    expect(closestName('Tokne', sections)).toBe('Token');
    expect(closestName('token', sections)).toBe('Token');
    expect(closestName('contianer', sections)).toBe('container');
    expect(closestName('uplod', sections)).toBe('upload');
    expect(closestName('Jobs', sections)).toBe('Job');
  });
  it('says nothing when no name is close, or for the name itself', () => {
    expect(closestName('Extra', sections)).toBeUndefined();
    expect(closestName('Ab', sections)).toBeUndefined();
    expect(closestName('Token', ['Token'])).toBeUndefined();
  });
});
