// The document heatmap's data: which characters of each message the cache still holds after an
// evictor's turn, or how deep a lazy prefill computed them. Token ranges (with a weight each)
// become characters by detokenizing the prompt piece by piece; each message's content is found in
// that text in order. Tokens split inside a multi-byte character detokenize to one replacement
// character each, so offsets there are off by a character or two: it is a heatmap.
import type { LlamaModel, Token } from 'node-llama-cpp';
import type { ChatMessage, KeptText, WeightedRanges } from '../src-common/engineTypes.js';

/** Kept prompt indices (in any order: recall=N moves some after the rest) as flat [start, end) ranges; answer tokens left out. */
export function keptTokenRanges(origins: readonly number[], promptTokens: number): number[] {
  const ranges: number[] = [];
  for (const index of [...origins].sort((a, b) => a - b)) {
    if (index >= promptTokens) break;
    if (ranges.length > 0 && ranges[ranges.length - 1] === index) ranges[ranges.length - 1] = index + 1;
    else ranges.push(index, index + 1);
  }
  return ranges;
}

/**
 * Each prompt token's depth after a lazy prefill (the layers it was computed in: the first one it
 * skipped, or all of them), as ranges of equal depth weighted by their share of the layers.
 */
export function depthRanges(prunedAt: { positions: ArrayLike<number>; layers: ArrayLike<number> }, promptTokens: number, layers: number): WeightedRanges {
  const depth = new Array<number>(promptTokens).fill(layers);
  for (let i = 0; i < prunedAt.positions.length; i++) {
    const at = prunedAt.positions[i]!;
    if (at >= 0 && at < promptTokens) depth[at] = prunedAt.layers[i]!;
  }
  const ranges: number[] = [];
  const weights: number[] = [];
  depth.forEach((d, i) => {
    const weight = d / layers;
    if (weights.length > 0 && weights[weights.length - 1] === weight) ranges[ranges.length - 1] = i + 1;
    else {
      ranges.push(i, i + 1);
      weights.push(weight);
    }
  });
  return { ranges, weights };
}

/**
 * Character ranges of each message's content covered by the token ranges (with their weights).
 * `pieces` are the prompt's tokens as text; a message whose content is not found in their
 * concatenation is left out. Neighbouring ranges of one weight merge.
 */
export function messageCharRanges(pieces: readonly string[], tokens: WeightedRanges, contents: readonly string[]): Array<{ index: number } & WeightedRanges> {
  const offsets = [0];
  for (const piece of pieces) offsets.push(offsets[offsets.length - 1]! + piece.length);
  const text = pieces.join('');
  const result: Array<{ index: number } & WeightedRanges> = [];
  let cursor = 0;
  contents.forEach((content, index) => {
    if (!content) return;
    // the start is found by the content's beginning: a replacement character later on would fail a whole match
    const start = text.indexOf(content.slice(0, 200), cursor);
    if (start < 0) return;
    const end = start + content.length;
    cursor = start + 1;
    const ranges: number[] = [];
    const weights: number[] = [];
    for (let i = 0; i < tokens.ranges.length; i += 2) {
      const from = Math.max(start, offsets[tokens.ranges[i]!]!);
      const to = Math.min(end, offsets[tokens.ranges[i + 1]!]!);
      if (to <= from) continue;
      const weight = tokens.weights?.[i / 2] ?? 1;
      if (ranges.length > 0 && ranges[ranges.length - 1] === from - start && weights[weights.length - 1] === weight) ranges[ranges.length - 1] = to - start;
      else {
        ranges.push(from - start, to - start);
        weights.push(weight);
      }
    }
    result.push({ index, ranges, ...(tokens.weights ? { weights } : {}) });
  });
  return result;
}

/** The prompt's tokens as text: each piece with the one before it, so a tokenizer that drops a leading space on its own keeps it. */
function promptPieces(model: LlamaModel, prompt: readonly Token[]): string[] {
  return prompt.map((token, i) => model.detokenize([token], true, i > 0 ? [prompt[i - 1]!] : []));
}

/** What an evictor's cache kept of the prompt, per message; null when it kept every prompt token. */
export function describeKept(model: LlamaModel, prompt: readonly Token[], messages: readonly ChatMessage[], origins: readonly number[]): KeptText | null {
  const tokenRanges = keptTokenRanges(origins, prompt.length);
  let keptTokens = 0;
  for (let i = 0; i < tokenRanges.length; i += 2) keptTokens += tokenRanges[i + 1]! - tokenRanges[i]!;
  if (keptTokens >= prompt.length) return null;
  const messageRanges = messageCharRanges(promptPieces(model, prompt), { ranges: tokenRanges }, messages.map((m) => m.content));
  return { basis: 'evicted', keptTokens, promptTokens: prompt.length, messages: messageRanges };
}

/** How deep a lazy prefill computed each part of the prompt, per message; null when it pruned nothing. */
export function describeDepth(
  model: LlamaModel,
  prompt: readonly Token[],
  messages: readonly ChatMessage[],
  prunedAt: { positions: ArrayLike<number>; layers: ArrayLike<number> } | undefined,
  layers: number,
): KeptText | null {
  if (!prunedAt || prunedAt.positions.length === 0) return null;
  const tokens = depthRanges(prunedAt, prompt.length, layers);
  return {
    basis: 'computed',
    keptTokens: prompt.length - prunedAt.positions.length,
    promptTokens: prompt.length,
    messages: messageCharRanges(promptPieces(model, prompt), tokens, messages.map((m) => m.content)),
  };
}
