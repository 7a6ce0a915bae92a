// The evictor: token eviction under a KV budget, one press per scorer (../scorers). The context
// is created with the budget's size, so the memory saved is memory never allocated; the scorer
// decides which tokens the budget keeps beside the sinks and the recent window.
import { BUDGET, COUNT, COUNT_OR_SENTENCE, atLeastOne, oddPool } from '../knobPatterns.js';
import { PolicySpecError } from '../policyError.js';
import { parseByteSize } from '../../format.js';
import type { AfterTurn, Exclusion, Knob, PressDeclaration } from '../press.js';
import type { PlanDraft } from '../contextPlan.js';
import { SCORERS } from '../scorers/index.js';
import type { Scorer } from '../scorers/scorer.js';
import { CONTEXT_STEP, kvRowBytes } from '../kvBytes.js';
import type { EvictionPolicy, KvBudget, KvPolicy } from '../spec.js';

const BUDGET_KNOB: Knob = {
  pattern: BUDGET,
  default: null,
  required: true,
  description: 'tokens kept, as a count ("512"), a fraction of the prompt written with a dot ("0.2", "1.0"; "1" is the whole prompt) or KV bytes ("64mb", "512kb", "1gb", "1000b")',
};

const WHEN_KNOB: Knob = {
  values: ['stream', 'prompt'],
  default: null,
  description:
    'evict while the prompt streams in (stream: memory never above the budget) or once the whole prompt, question included, is in (prompt: full-size peak, budget after); default stream, or prompt after a lazy prefill or with simlayerkv:rule=prefill, which need the whole prompt in one context',
};

const LOOKAHEAD_KNOB: Knob = {
  values: ['question', 'none'],
  default: 'question',
  description:
    "with when=stream, what ranks each round while a prompt longer than the budget streams in: question evaluates the prompt's last window tokens (the question) after what the cache holds, once per half recent window, ranks the rounds by their attention and erases them again; none ranks by the last chunk's own queries",
};

const RECALL_KNOB: Knob = {
  pattern: COUNT,
  default: '0',
  description:
    "with lookahead=question, for a prompt longer than the budget: when the stream reaches its last window (the question), this many tokens of the kept middle, the sentences the question ranks highest, are erased where they sit and read again just before it, the highest ranked last, so the fact asked about is next to the question rather than behind everything kept; at most the recent window; 0 = off",
};

const CHUNK_KNOB: Knob = {
  pattern: COUNT_OR_SENTENCE,
  default: '1',
  description:
    'tokens ranked as one unit and kept whole: runs of this many consecutive tokens of the conversation scored by their summed importance (ChunkKV), or sentence: each sentence (at most 64 tokens) scored by its most important token; 1 = token by token',
};

const HEADS_KNOB: Knob = {
  values: ['sum', 'max', 'share'],
  default: 'sum',
  description:
    "how the observed heads' scores combine into a token's importance: sum (a token many heads attend to ranks high) or max (a token any one head attends to sharply ranks high, as a retrieval head's fact does: through a 2,048-token cache at 32k tokens it kept the pass key's sentence where sum wore it away) or share (the largest of each head's share of what it gives the evictable middle, so a layer with large value norms does not decide by its scale alone)",
};

const FOLLOWUP_KNOB: Knob = {
  values: ['kept', 'reread'],
  default: null,
  description:
    "what a follow-up question reads: kept (default) goes on from the tokens the budget kept, reading only the new ones and selecting again for the new question among them; reread reads the whole conversation again, selecting for it from everything; with reuse=disk the follow-up restores the full KV stored on disk and selects again",
};

/** Window of queries an unknobbed scorer would use; only read by window scoring. */
const DEFAULT_QUERY_WINDOW = 32;

function knobsFor(scorer: Scorer): Record<string, Knob> {
  const sink: Knob = scorer.ranked
    ? { pattern: COUNT, default: String(scorer.defaultSink), description: 'first tokens never evicted' }
    : { pattern: COUNT, default: String(scorer.defaultSink), description: 'first tokens kept (attention sinks); the rest of the budget is the recent window' };
  if (!scorer.ranked) return { budget: BUDGET_KNOB, sink, followup: FOLLOWUP_KNOB, ...scorer.knobs };
  return {
    budget: BUDGET_KNOB,
    sink,
    recent: { pattern: COUNT, default: null, description: 'last tokens never evicted (default: half of the budget)' },
    when: WHEN_KNOB,
    // only a window of queries can be evaluated ahead: accumulated and attention-free scores have none
    ...(scorer.attention === 'window' || scorer.attention === 'choice' ? { lookahead: LOOKAHEAD_KNOB, recall: RECALL_KNOB } : {}),
    chunk: CHUNK_KNOB,
    heads: HEADS_KNOB,
    followup: FOLLOWUP_KNOB,
    ...scorer.knobs,
  };
}

/** A budget in tokens: fractions of the prompt round up, bytes round down; never below 1. */
export function resolveBudgetTokens(budget: KvBudget, promptTokens: number, bytesPerToken: number): number {
  let tokens: number;
  switch (budget.kind) {
    case 'tokens':
      tokens = budget.value;
      break;
    case 'fraction':
      // The epsilon keeps float noise (0.07 * 100 = 7.000000000000001) from rounding up a whole token.
      tokens = Math.ceil(budget.value * promptTokens - 1e-9);
      break;
    case 'bytes':
      if (!(bytesPerToken > 0)) throw new RangeError(`bytesPerToken must be above 0, not ${bytesPerToken}`);
      tokens = Math.floor(budget.value / bytesPerToken);
      break;
  }
  return Math.max(1, tokens);
}

export function parseBudget(method: string, raw: string): KvBudget {
  const bytes = /[a-z]$/i.test(raw) ? parseByteSize(raw) : null;
  if (bytes !== null) {
    if (bytes < 1) throw new PolicySpecError(`${method}:budget=${raw} must be at least 1 byte`);
    return { kind: 'bytes', value: bytes };
  }
  const value = Number(raw);
  if (raw.includes('.')) {
    if (value <= 0 || value > 1) {
      throw new PolicySpecError(`${method}:budget=${raw} is a fraction of the prompt and must be above 0 and at most 1`);
    }
    return { kind: 'fraction', value };
  }
  if (value === 0) throw new PolicySpecError(`${method}:budget=0 keeps nothing; give at least 2 tokens, a fraction like 0.2 or bytes like 64mb`);
  if (value === 1) return { kind: 'fraction', value: 1 };
  return { kind: 'tokens', value };
}

function parseEviction(scorer: Scorer, params: Readonly<Record<string, string>>): EvictionPolicy {
  const method = scorer.name;
  const rawBudget = params['budget'];
  if (rawBudget === undefined) {
    throw new PolicySpecError(`${method} needs budget=: tokens ("512"), a fraction of the prompt ("0.2") or KV bytes ("64mb")`);
  }
  const budget = parseBudget(method, rawBudget);
  const sink = Number(params['sink']);
  const recent = params['recent'] !== undefined ? Number(params['recent']) : null;
  if (budget.kind === 'tokens' && sink + (recent ?? 0) > budget.value) {
    const kept = recent === null ? `sink=${sink}` : `sink=${sink} + recent=${recent}`;
    throw new PolicySpecError(`${method}: ${kept} is more than budget=${budget.value} tokens`);
  }
  const window = params['window'] !== undefined ? atLeastOne(method, 'window', params['window']) : DEFAULT_QUERY_WINDOW;
  const pool = params['pool'] !== undefined ? oddPool(method, params['pool']) : 1;
  const score = scorer.attention === 'window' || (scorer.attention === 'choice' && params['score'] !== 'acc') ? 'window' : 'accumulate';
  const when = params['when'] === 'prompt' ? 'prompt' : 'stream';
  const chunk = params['chunk'] === 'sentence' ? 'sentence' : params['chunk'] !== undefined ? atLeastOne(method, 'chunk', params['chunk']) : 1;
  const heads = params['heads'] === 'max' || params['heads'] === 'share' ? params['heads'] : 'sum';
  const reuse = params['reuse'] === 'disk' ? 'disk' : 'off';
  if (reuse === 'disk' && when !== 'prompt') throw new PolicySpecError(`${method}:reuse=disk needs when=prompt (the full KV is kept only when the whole prompt is prefilled)`);
  if (reuse === 'disk' && score !== 'window') throw new PolicySpecError(`${method}:reuse=disk needs score=window (accumulated scores of stored tokens are not kept)`);
  // accumulated scores (score=acc) have no window to evaluate ahead
  const lookahead = score === 'window' && params['lookahead'] !== 'none' ? 'question' : 'none';
  if (reuse === 'disk' && params['followup'] === 'kept') throw new PolicySpecError(`${method}:reuse=disk selects again from the full KV stored on disk; drop followup=kept`);
  const followUp = reuse === 'disk' || params['followup'] === 'reread' ? 'reread' : 'kept';
  const recall = params['recall'] !== undefined ? Number(params['recall']) : 0;
  if (recall > 0 && (when !== 'stream' || lookahead !== 'question')) {
    throw new PolicySpecError(`${method}:recall=${recall} re-reads what the question, read ahead while the prompt streams in, ranks highest; it needs when=stream and lookahead=question`);
  }
  const recentRoom = recent ?? (budget.kind === 'tokens' ? Math.floor(budget.value / 2) : null);
  if (recentRoom !== null && recall > recentRoom) {
    throw new PolicySpecError(`${method}:recall=${recall} is more than the recent window (${recentRoom} tokens), where the tokens read again stay`);
  }
  return { method, budget, sink, recent, score, window, pool, chunk, heads, when, reuse, lookahead, followUp, recall };
}

/**
 * The budget is the context's size, so the memory saved is never allocated. llama.cpp allocates
 * cells in steps of 256: a budget below the prompt goes to the nearest step; one that holds the
 * prompt rounds up, so it stays a no-op.
 */
function planBudget(eviction: EvictionPolicy, draft: PlanDraft): void {
  const { model, shape, promptTokens } = draft;
  const fullLayers = model.layers - shape.trimmedLayers.length;
  const bytesPerToken = 2 * fullLayers * kvRowBytes(model, shape.kvType);
  const budget = resolveBudgetTokens(eviction.budget, promptTokens, bytesPerToken);
  const steps = budget >= promptTokens ? Math.ceil(budget / CONTEXT_STEP) : Math.round(budget / CONTEXT_STEP);
  const budgetTokens = Math.min(model.contextSize, Math.max(1, steps) * CONTEXT_STEP);
  // an eighth of the budget stays free after each round: the next prefill chunk, evaluated as one
  // batch (a smaller batch also shrinks the trimmed layers' window caches)
  const headroom = Math.max(16, Math.min(shape.batchSize, Math.floor(budgetTokens / 8)));
  // a lazy prefill, and SimLayerKV deciding its layers on the prompt, need the whole prompt in one
  // context: the evictor then runs once after it
  const afterLazy = draft.applied.includes('lazy');
  const policy: EvictionPolicy = afterLazy || draft.layerRule ? { ...eviction, when: 'prompt' } : eviction;
  // when=prompt prefills at full size first, with the question in view
  if (policy.when === 'prompt') draft.prefillShape = { ...shape };
  shape.contextSize = budgetTokens;
  shape.batchSize = headroom;
  draft.eviction = { policy, budgetTokens, headroom, layers: model.layers, afterLazy };
}

/**
 * What refuses to follow a lazy prefill: eviction there runs once, on the attention of the last
 * queries (the only ones a segmented prefill observes), and must drop the pruned tokens, which a
 * positional window would keep.
 */
function lazyPrefillExclusions(scorer: Scorer): Exclusion[] {
  if (!scorer.ranked) {
    return [{ role: 'prefill', reason: `${scorer.name} keeps tokens by position, and lazy prefill leaves its pruned tokens without K/V in the deeper layers; use a ranked scorer (vatp, snapkv) with lazy` }];
  }
  if (scorer.attention === 'none') {
    return [{ role: 'prefill', reason: `${scorer.name} ranks without attention, and the tokens a lazy prefill pruned are told apart by the attention the question and the first answer token pay them; use vatp or snapkv with lazy` }];
  }
  if (scorer.attention === 'accumulate') {
    return [{ role: 'prefill', reason: `${scorer.name} ranks by attention summed over every query, and a lazy prefill observes only the last ones; use vatp or snapkv with lazy` }];
  }
  const exclusions: Exclusion[] = [
    { role: 'prefill', when: (p) => p['when'] === 'stream', reason: `${scorer.name}:when=stream does not combine with lazy: a lazy prefill needs the whole prompt in one context, so eviction runs once after it (drop when=)` },
  ];
  if (scorer.attention === 'choice') {
    exclusions.push({ role: 'prefill', when: (p) => p['score'] === 'acc', reason: `${scorer.name}:score=acc sums every query's attention, and a lazy prefill observes only the last ones; use score=window with lazy` });
  }
  if (scorer.knobs['reuse']) {
    exclusions.push({ role: 'prefill', when: (p) => p['reuse'] === 'disk', reason: `${scorer.name}:reuse=disk does not combine with lazy yet: the stored document KV would lack the pruned tokens' deeper layers` });
  }
  return exclusions;
}

/**
 * What an evictor leaves for the next question: the tokens it kept, which a follow-up goes on from
 * (followup=kept), or nothing: the follow-up reads again (followup=reread), or restores the full
 * KV stored on disk (reuse=disk).
 */
function afterEviction(scorer: Scorer, policy: KvPolicy): AfterTurn {
  const eviction = policy.eviction;
  if (eviction?.reuse === 'disk') {
    return { cache: 'partial', reason: `${scorer.title} kept only the budget's tokens; the next question restores the full KV stored on disk and selects again` };
  }
  if (eviction?.followUp === 'reread') {
    return { cache: 'partial', reason: `${scorer.title} kept only the budget's tokens, chosen for this question; the next question reads the conversation again (followup=reread)` };
  }
  return {
    cache: 'kept',
    note: `${scorer.title} kept only the budget's tokens, chosen for this question: the next question goes on from them, reading only its new tokens, and selects again among them (followup=reread reads the whole conversation again)`,
  };
}

/** SimLayerKV decides its layers per prompt after a full-size prefill: eviction follows it once, with the prompt whole. */
function layerRuleExclusions(scorer: Scorer): Exclusion[] {
  const prefillRule = (layers: Readonly<Record<string, string>>) => layers['rule'] === 'prefill';
  if (!scorer.ranked) {
    return [{ role: 'layers', when: (_, layers) => prefillRule(layers), reason: `${scorer.name} keeps tokens by position while the prompt streams in, and simlayerkv:rule=prefill reads the whole prompt at full size first; use a ranked scorer (vatp, snapkv) or simlayerkv:rule=profile` }];
  }
  return [
    { role: 'layers', when: (p, layers) => prefillRule(layers) && p['when'] === 'stream', reason: `${scorer.name}:when=stream does not combine with simlayerkv:rule=prefill: the layers are decided on the whole prompt at full size, so eviction runs once after it (drop when=)` },
  ];
}

export function evictorPress(scorer: Scorer): PressDeclaration {
  return {
    name: scorer.name,
    title: scorer.title,
    role: 'evictor',
    summary: `${scorer.summary}, under a KV budget`,
    knobs: knobsFor(scorer),
    // StreamingLLM ranks nothing: node-llama-cpp's erase runs on any build
    requires: { native: scorer.ranked ? 'kvBudgets' : null, architectures: null, flashAttention: 'any', profile: 'none' },
    excludes: [...lazyPrefillExclusions(scorer), ...layerRuleExclusions(scorer)],
    fallback: 'kept every token',
    hooks: ['context', 'perChunk', 'perDecodeStep', ...(scorer.ranked ? (['twoContext'] as const) : [])],
    reports: 'eviction',
    parse: (params) => ({ eviction: parseEviction(scorer, params) }),
    planContext: (policy, draft) => planBudget(policy.eviction!, draft),
    afterTurn: (policy) => afterEviction(scorer, policy),
    describeTurn(metrics) {
      const e = metrics.eviction;
      if (!e) return null;
      const n = (v: number) => v.toLocaleString('en-US');
      const reused = e.reuse?.reusedTokens ? `; ${n(e.reuse.reusedTokens)} prompt tokens restored from the stored document KV in ${Math.round(e.reuse.restoreMs)} ms` : '';
      const afterLazy = e.afterLazy ? ' after the lazy prefill, its pruned tokens first' : '';
      const ahead = e.lookaheadTokens ? `; the ${n(e.prefillRounds)} round${e.prefillRounds === 1 ? '' : 's'} while the prompt streamed in ranked by the question, read ahead` : '';
      const recalled = e.recalledTokens ? `; ${n(e.recalledTokens)} kept tokens the question ranked highest were read again just before it${quoted(e.recalledText)}` : '';
      const longer = metrics.promptTokens > metrics.contextSize ? `; the ${n(metrics.promptTokens)}-token prompt was read whole through a ${n(metrics.contextSize)}-token cache` : '';
      return `budget ${n(e.budgetTokens)} tokens: evicted ${n(e.evicted)} in ${n(e.rounds)} round${e.rounds === 1 ? '' : 's'}${afterLazy}, kept ${n(e.keptTokens)}${reused}${ahead}${recalled}${longer}`;
    },
  };
}

/** Text the person can recognise in a summary line: whitespace collapsed, at most 160 characters. */
function quoted(text: string | null | undefined): string {
  if (!text) return '';
  const flat = text.replace(/\s+/g, ' ').trim();
  return ` (“${flat.length > 160 ? `${flat.slice(0, 159)}…` : flat}”)`;
}

export const EVICTOR_PRESSES: readonly PressDeclaration[] = SCORERS.map(evictorPress);
