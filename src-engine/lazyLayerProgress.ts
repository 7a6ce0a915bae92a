// How far a lazy (segmented) prefill has got in each layer, from the native progress counter:
// the prefill runs every token through the first segment's layers, then the kept ones through the
// next segment's, and so on (llama-sift-prefill.cpp), counting token-layers as it goes. The
// schedule fixes each segment's token count, so the counter says exactly how many tokens each
// layer has computed so far: what the live per-layer chart shows while the prompt is read.
import type { LazySchedule } from './siftNative.js';

/** Tokens each segment computes: the native prefill's own arithmetic (sinks and recent tokens never pruned). */
export function lazySegmentTokens(schedule: Pick<LazySchedule, 'pruneLayers' | 'keep' | 'nSink' | 'nRecent'>, nTokens: number): number[] {
  const forced = Math.min(nTokens, Math.max(schedule.nSink, 0) + Math.max(schedule.nRecent, 1));
  const counts = [nTokens];
  let tokens = nTokens;
  for (const keep of schedule.keep) {
    const target = Math.max(1, Math.ceil(keep * nTokens));
    tokens = Math.min(tokens, Math.max(target, forced));
    counts.push(tokens);
  }
  return counts;
}

/** Tokens computed so far in each layer (index = layer), given the native counter's done/total fraction. */
export function lazyLayerProgress(
  schedule: Pick<LazySchedule, 'pruneLayers' | 'keep' | 'nSink' | 'nRecent'>,
  nTokens: number,
  nLayers: number,
  fraction: number,
): number[] {
  const bounds = [0, ...schedule.pruneLayers, nLayers];
  const tokens = lazySegmentTokens(schedule, nTokens);
  const total = tokens.reduce((sum, n, seg) => sum + n * (bounds[seg + 1]! - bounds[seg]!), 0);
  let left = Math.round(Math.min(1, Math.max(0, fraction)) * total);
  const layers = new Array<number>(nLayers).fill(0);
  for (let seg = 0; seg < tokens.length; seg++) {
    const depth = bounds[seg + 1]! - bounds[seg]!;
    // a chunk of the segment's tokens goes through all of its layers at once
    const done = Math.min(tokens[seg]!, Math.floor(left / Math.max(1, depth)));
    for (let layer = bounds[seg]!; layer < bounds[seg + 1]!; layer++) layers[layer] = done;
    left -= done * depth;
    if (done < tokens[seg]!) break;
  }
  return layers;
}
