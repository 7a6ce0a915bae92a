// The document heatmap's data: kept prompt tokens as ranges, and as characters of each message.
import { describe, expect, it } from 'vitest';
import { depthRanges, keptTokenRanges, messageCharRanges } from '../../src-engine/keptText.js';

describe('what the cache kept, as text', () => {
  it('turns kept prompt indices into ranges and leaves the answer out', () => {
    expect(keptTokenRanges([0, 1, 2, 5, 6, 9, 10, 11], 10)).toEqual([0, 3, 5, 7, 9, 10]);
    expect(keptTokenRanges([], 10)).toEqual([]);
    // recall=N moves a sentence after the rest: the ranges are the same
    expect(keptTokenRanges([0, 1, 2, 9, 10, 11, 5, 6], 10)).toEqual([0, 3, 5, 7, 9, 10]);
  });

  it('maps token ranges to characters of each message, found in order in the rendered prompt', () => {
    // "<s>" "user:" " The" " cat" " sat" "." "<e>" "bot:" " Hi" — message 0 is "The cat sat.", message 1 "Hi"
    const pieces = ['<s>', 'user:', ' The', ' cat', ' sat', '.', '<e>', 'bot:', ' Hi'];
    const contents = ['The cat sat.', 'Hi'];
    // kept: "<s>", " The", " sat", "." and " Hi"
    const ranges = messageCharRanges(pieces, { ranges: [0, 1, 2, 3, 4, 6, 8, 9] }, contents);
    expect(ranges).toEqual([
      // " The" covers the space before the content too: clipped at its start
      { index: 0, ranges: [0, 3, 7, 12] },
      { index: 1, ranges: [0, 2] },
    ]);
    const [first] = ranges;
    expect(first!.ranges.length).toBe(4);
    expect('The cat sat.'.slice(7, 12)).toBe(' sat.');
  });

  it('leaves out a message it cannot find, and an empty one', () => {
    expect(messageCharRanges(['a', 'b'], { ranges: [0, 2] }, ['zzz', '', 'ab'])).toEqual([{ index: 2, ranges: [0, 2] }]);
  });

  it("a lazy prefill's depths: ranges of equal depth, weighted by their share of the layers", () => {
    // 8 tokens, 4 layers: tokens 2 and 3 skipped from layer 2 on, token 5 from layer 1
    const tokens = depthRanges({ positions: [2, 3, 5], layers: [2, 2, 1] }, 8, 4);
    expect(tokens).toEqual({ ranges: [0, 2, 2, 4, 4, 5, 5, 6, 6, 8], weights: [1, 0.5, 1, 0.25, 1] });
    // one character a token: the weights carry over, neighbours of one weight merge
    const pieces = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    expect(messageCharRanges(pieces, tokens, ['bcdefg'])).toEqual([{ index: 0, ranges: [0, 1, 1, 3, 3, 4, 4, 5, 5, 6], weights: [1, 0.5, 1, 0.25, 1] }]);
  });
});
