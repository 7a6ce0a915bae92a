import { describe, expect, it } from 'vitest';
import { searchTerms, toFtsQuery } from '../../src-main/store/search.js';

describe('search query building', () => {
  it('splits free text into words, keeping accented letters and digits', () => {
    expect(searchTerms('Café-crème, 2024 budget!')).toEqual(['Café', 'crème', '2024', 'budget']);
    expect(searchTerms('   ')).toEqual([]);
  });

  it('quotes every word and matches it as a prefix', () => {
    expect(toFtsQuery('lease notice')).toBe('"lease"* "notice"*');
  });

  it('neutralizes FTS5 operators and quotes in user input', () => {
    expect(toFtsQuery('a" OR b NEAR(c) title:x -y')).toBe('"a"* "OR"* "b"* "NEAR"* "c"* "title"* "x"* "y"*');
    expect(toFtsQuery('"*^():')).toBeNull();
  });
});
