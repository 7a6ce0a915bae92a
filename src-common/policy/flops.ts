// Prefill arithmetic of a decoder-only transformer, counted from the model's shape, and the
// FLOP-ratio limit of a lazy-prefill schedule: the speedup over stock a schedule could reach if
// prefill time were proportional to arithmetic. The benchmark prints it beside the measured
// speedup, so a schedule that wins less than its arithmetic allows shows up as overhead.
//
//   FLOPs(prefill) = Σ_l ( q_l · C_lin + q_l · k_l · C_attn )
//
// q_l  rows (prompt tokens) computed at layer l
// k_l  keys each of those rows attends to, averaged over the rows. Attention is causal and a
//      computed row sees exactly the computed rows at or before its position (itself included;
//      pruned tokens' K/V are not there in deeper layers), so the j-th computed row sees j keys
//      and k_l = (q_l + 1) / 2 exactly, whichever tokens were kept.
// C_lin   FLOPs of one row through one layer's matrices (see linearFlopsPerToken)
// C_attn  FLOPs of one query-key pair in one layer (see attentionFlopsPerPair)
//
// Left out, because they are the same for stock and lazy or small next to the rest: the token
// embedding lookup, the norms and activations, the output projection (one row: the last token),
// and the lazy observation ops (one query row's scores per prune point). The count is the ideal
// causal triangle; llama.cpp computes whole ubatch × cache rectangles and masks the future, which
// costs both builds about ubatch/2 extra keys per row.

export interface ModelShape {
  layers: number;
  /** n_embd: width of the residual stream. */
  embeddingLength: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads (fewer than heads under grouped-query attention). */
  kvHeads: number;
  headDim: number;
  /** n_ff: hidden width of the feed-forward block. */
  feedForwardLength: number;
}

/** The work at one layer: rows computed and the mean number of keys each attends to. */
export interface LayerWork {
  rows: number;
  meanKeys: number;
}

/**
 * One prune point, as the policy's `lazy:at=` gives it: `layer` is the first layer computed for
 * the kept tokens only (the layers before it score the tokens; layer 0 can never be one).
 */
export interface PrunePoint {
  layer: number;
  /** Fraction of the whole prompt that continues past this layer (not of the tokens still alive). */
  keep: number;
}

export interface LazySchedule {
  /** In increasing layer order, with non-increasing keep fractions. */
  points: PrunePoint[];
  /** Tokens never pruned (sinks + the last prompt tokens); a floor on every kept count. */
  alwaysKept?: number;
}

/**
 * FLOPs of one token through one layer's matrices, 2 per multiply-add: the Q, K, V and output
 * projections, 2·n_embd·(n_head·d_head + 2·n_kv·d_head) + 2·n_head·d_head·n_embd (for SmolLM2,
 * n_head·d_head = n_embd, so this is 2·n_embd·(n_embd + 2·n_kv·d_head + n_embd)), plus the gated
 * feed-forward block's three matrices, 3·2·n_embd·n_ff.
 */
export function linearFlopsPerToken(shape: ModelShape): number {
  const queryWidth = shape.heads * shape.headDim;
  const kvWidth = shape.kvHeads * shape.headDim;
  const projections = 2 * shape.embeddingLength * (queryWidth + 2 * kvWidth) + 2 * queryWidth * shape.embeddingLength;
  const feedForward = 3 * 2 * shape.embeddingLength * shape.feedForwardLength;
  return projections + feedForward;
}

/** FLOPs of one query-key pair in one layer: q·k and the weighted sum of v, per query head. */
export function attentionFlopsPerPair(shape: ModelShape): number {
  return 2 * 2 * shape.heads * shape.headDim;
}

/** Mean keys per row when `rows` computed rows attend causally among themselves. */
export function causalMeanKeys(rows: number): number {
  return rows > 0 ? (rows + 1) / 2 : 0;
}

export function prefillFlops(shape: ModelShape, work: readonly LayerWork[]): number {
  if (work.length !== shape.layers) {
    throw new RangeError(`work is given for ${work.length} layers, the model has ${shape.layers}`);
  }
  const linear = linearFlopsPerToken(shape);
  const attention = attentionFlopsPerPair(shape);
  return work.reduce((sum, layer) => sum + layer.rows * linear + layer.rows * layer.meanKeys * attention, 0);
}

/** Stock prefill: every prompt token through every layer. */
export function stockLayerWork(shape: ModelShape, promptTokens: number): LayerWork[] {
  return Array.from({ length: shape.layers }, () => ({ rows: promptTokens, meanKeys: causalMeanKeys(promptTokens) }));
}

function checkSchedule(shape: ModelShape, schedule: LazySchedule): void {
  let previous: PrunePoint | undefined;
  for (const point of schedule.points) {
    if (!Number.isInteger(point.layer) || point.layer < 1 || point.layer >= shape.layers) {
      throw new RangeError(`prune point layer ${point.layer} is outside 1..${shape.layers - 1}`);
    }
    if (!(point.keep > 0 && point.keep <= 1)) throw new RangeError(`keep fraction ${point.keep} is outside (0, 1]`);
    if (previous && point.layer <= previous.layer) throw new RangeError('prune point layers must increase');
    // fractions are of the whole prompt, and a pruned token does not come back during prefill
    if (previous && point.keep > previous.keep) throw new RangeError('keep fractions must not increase');
    previous = point;
  }
}

/**
 * Lazy prefill: from a prune point's layer on, ceil(keep · promptTokens) tokens are computed
 * (never fewer than alwaysKept, never more than the prompt); the layers before the first prune
 * point compute every token. With at=4/12/20 on 30 layers: layers 0-3, 4-11, 12-19 and 20-29.
 */
export function trimmedLayerWork(shape: ModelShape, promptTokens: number, schedule: LazySchedule): LayerWork[] {
  checkSchedule(shape, schedule);
  const floor = Math.min(promptTokens, Math.max(1, schedule.alwaysKept ?? 0));
  const keepFrom = new Map(schedule.points.map((p) => [p.layer, p.keep]));
  const work: LayerWork[] = [];
  let alive = promptTokens;
  for (let layer = 0; layer < shape.layers; layer++) {
    const keep = keepFrom.get(layer);
    if (keep !== undefined) alive = Math.min(alive, Math.max(floor, Math.ceil(keep * promptTokens)));
    work.push({ rows: alive, meanKeys: causalMeanKeys(alive) });
  }
  return work;
}

/** Stock FLOPs / lazy FLOPs for one prompt length: the most a schedule can speed prefill up. */
export function flopRatioLimit(shape: ModelShape, promptTokens: number, schedule: LazySchedule): number {
  return prefillFlops(shape, stockLayerWork(shape, promptTokens)) / prefillFlops(shape, trimmedLayerWork(shape, promptTokens, schedule));
}
