// `lazy`: LazyLLM prefill pruning. The prompt is prefilled segment by segment; at each prune
// point the least-attended tokens stop being computed, their hidden states kept in an aux cache.
// The model's default schedule lives in ../lazy.ts (it depends on the depth).
import { COUNT, COUNT_OR_QUESTION, FRACTION_LIST, LAYER_LIST, LAYER_OR_LAST, oddPool } from '../knobPatterns.js';
import { PolicySpecError } from '../policyError.js';
import type { LazyTurnMetrics } from '../../engineTypes.js';
import type { PressDeclaration } from '../press.js';
import type { LazyScheduleName } from '../spec.js';
import { LAZY_SCHEDULES } from '../lazy.js';
import { LAZY_PREFILL_ARCHITECTURES, SLIDING_WINDOW_ARCHITECTURES } from '../architectures.js';

const percent = (f: number) => `${Math.round(f * 100)}%`;

/** e.g. "light keeps 70/60/50% from 27/67/80% of the depth", from the schedule's own numbers. */
function describeSchedule(name: LazyScheduleName): string {
  const { points, keep } = LAZY_SCHEDULES[name];
  const shares = (fs: readonly number[]) => fs.map((f) => Math.round(f * 100)).join('/');
  return `${name} keeps ${shares(keep)}% from ${shares(points)}% of the depth`;
}

/** e.g. "pruned 2,867 of 4,050 prompt tokens (kept 70% from layer 8, 60% from 20, 50% from 24), ranked by the last 18 tokens' attention" */
export function describeLazyPrefill(lazy: LazyTurnMetrics, promptTokens: number): string {
  const points = lazy.pruneLayers.map((layer, i) => `${percent(lazy.keep[i] ?? 1)} from ${i === 0 ? 'layer ' : ''}${layer}`).join(', ');
  const revived = lazy.revived > 0 ? `; revived ${lazy.revived.toLocaleString('en-US')} after the first token in ${Math.round(lazy.reviveMs).toLocaleString('en-US')} ms` : '';
  return (
    `pruned ${lazy.pruned.toLocaleString('en-US')} of ${promptTokens.toLocaleString('en-US')} prompt tokens (kept ${points}), ` +
    `ranked by the last ${lazy.obsWindow} tokens' attention${lazy.span > 0 ? ', whole sentences at a time' : ''}${revived}`
  );
}

export const lazyPrefillPress: PressDeclaration = {
  name: 'lazy',
  title: 'Lazy prefill',
  role: 'prefill',
  summary: 'LazyLLM: prefill prunes the least-attended prompt tokens from the deeper layers (faster first token)',
  knobs: {
    at: { pattern: LAYER_LIST, default: null, description: "prune points: the layers the kept tokens continue into, increasing (default: the named schedule scaled to the depth)" },
    keep: { pattern: FRACTION_LIST, default: null, description: "fraction of the prompt computed after each prune point, never growing (default: the named schedule's)" },
    schedule: {
      values: ['light', 'balanced'],
      default: 'light',
      description:
        `the schedule when at/keep are not given, scaled to the model's depth: ${describeSchedule('light')}; ${describeSchedule('balanced')} (Qwen2.5-0.5B's layers 5/10/14), faster and a little lossier`,
    },
    sink: { pattern: COUNT, default: '4', description: 'first tokens never pruned' },
    recent: { pattern: COUNT, default: '16', description: 'last tokens never pruned' },
    window: { pattern: COUNT_OR_QUESTION, default: 'question', description: "tokens are scored by the attention of this many last tokens; question = the question's own tokens and the template's tail" },
    pool: { pattern: COUNT, default: '15', description: "max-pooling kernel over positions of each KV head's scores, odd; 1 = none" },
    from: { pattern: LAYER_OR_LAST, default: null, description: "sum the attention of every layer from this one up to each prune point; last = the prune point's previous layer only, LazyLLM's rule (default: a tenth of the depth)" },
    span: { pattern: COUNT, default: '48', description: 'rank whole sentences of at most this many tokens by their best token, so a fact is kept or pruned whole; 0 = each token alone' },
    revive: { values: ['on', 'off'], default: 'off', description: 'complete pruned tokens after the first answer token (off: at 8k reviving stalls the answer about as long as a full prefill)' },
  },
  requires: { native: 'lazyPrefill', architectures: LAZY_PREFILL_ARCHITECTURES, flashAttention: 'any', profile: 'none' },
  // an evictor declares which of its settings follow a lazy prefill (presses/evictor.ts)
  excludes: [
    {
      role: 'layers',
      when: (_own, other) => (other['rule'] ?? 'profile') !== 'profile',
      reason: 'lazy prefill combines with simlayerkv:rule=profile only: rule=prefill and rule=decode decide the layers on a full-size prefill of their own',
    },
  ],
  fallback: 'ran a full prefill',
  hooks: ['beforePrefill', 'perChunk', 'afterPrefill'],
  reports: 'lazy',
  parse(params) {
    const at = params['at'] ? params['at'].split('/').map(Number) : null;
    const keep = params['keep'] ? params['keep'].split('/').map(Number) : null;
    if ((at === null) !== (keep === null)) throw new PolicySpecError('lazy: give both at= and keep=, or neither for the default');
    if (at && params['schedule'] !== 'light') throw new PolicySpecError('lazy: schedule= names a schedule; give it or at= and keep=, not both');
    if (at && keep) {
      if (at.length !== keep.length) throw new PolicySpecError(`lazy: ${at.length} prune points but ${keep.length} keep fractions`);
      if (at.some((l, i) => l < 1 || (i > 0 && l <= at[i - 1]!))) throw new PolicySpecError('lazy:at must increase and start at layer 1 or later');
      if (keep.some((k, i) => k <= 0 || (i > 0 && k > keep[i - 1]!))) throw new PolicySpecError('lazy:keep must be above 0 and never grow');
    }
    const from = params['from'];
    return {
      lazy: {
        at,
        keep,
        schedule: params['schedule'] === 'balanced' ? 'balanced' : 'light',
        sink: Number(params['sink']),
        recent: Number(params['recent']),
        window: params['window'] === 'question' ? 'question' : Math.max(1, Number(params['window'])),
        pool: oddPool('lazy', params['pool']!),
        scoreFrom: from === undefined ? null : from === 'last' ? 'last' : Number(from),
        span: Number(params['span']),
        revive: params['revive'] === 'on',
      },
    };
  },
  // revive=off leaves pruned tokens without K/V in the deeper layers: the engine completes them
  // while the person reads the answer, so a follow-up finds the conversation whole
  afterTurn: (policy) => (policy.lazy?.revive ? { cache: 'whole' } : { cache: 'revivable' }),
  describeTurn: (metrics) => (metrics.lazy ? describeLazyPrefill(metrics.lazy, metrics.promptTokens) : null),
  planContext(_policy, draft) {
    // each segment re-enters every earlier token, which SimLayerKV's trimmed layers have dropped:
    // the prompt is read lazily at full size and the conversation moved into the trimmed layers'
    // cache afterwards, by the evictor's stage (its kept tokens) or once revived while idle
    if (draft.shape.trimmedLayers.length > 0) {
      const untrimmed = { ...(draft.prefillShape ?? draft.shape), trimmedLayers: [], sink: 0, window: 0 };
      if (!draft.eviction) draft.trimAfterRevival = true;
      draft.prefillShape = untrimmed;
    }
    // a sliding-window cache must keep every token too (in the full-size context an evictor
    // prefills in first as well)
    if (!SLIDING_WINDOW_ARCHITECTURES.includes(draft.model.architecture)) return;
    draft.shape.swaFull = true;
    if (draft.prefillShape) draft.prefillShape.swaFull = true;
  },
};
