// What a turn's cache holds for the next question: declared by each press, merged by the plan,
// told to the person in one line; and how much of the kept sequence a follow-up may reuse.
import { describe, expect, it } from 'vitest';
import { planContexts, type ModelKvShape, type PlanOptions } from '../../src-common/policy/contextPlan.js';
import { parsePolicy } from '../../src-common/policy/spec.js';
import { describeConversationCache } from '../../src-common/turnSummary.js';
import { conversationAfterTurn, evictedContinuation, historyFor, type EvictedConversation } from '../../src-engine/conversationCache.js';
import type { Token } from 'node-llama-cpp';
import type { LazyTurnMetrics, ModelInfo } from '../../src-common/engineTypes.js';

const smol: ModelKvShape = { architecture: 'llama', layers: 30, kvHeads: 3, headDim: 64, contextSize: 8192 };
const gemma: ModelKvShape = { ...smol, architecture: 'gemma3' };
const patched: PlanOptions = { batchSize: 512, flashAttention: false, swaFullCache: false, features: new Set(['kvBudgets', 'lazyPrefill', 'observation']) };
const stock: PlanOptions = { ...patched, features: new Set() };

function plan(spec: string, options = patched, model = smol) {
  return planContexts(parsePolicy(spec), model, 2000, null, options);
}

function info(model: ModelKvShape): ModelInfo {
  return { ...model, path: 'm.gguf', name: 'm', sizeBytes: 1, trainContextSize: 8192, heads: 9, embeddingLength: 576, feedForwardLength: 1536, vocabSize: 49152, offloadedLayers: 0 } as ModelInfo;
}

const lazy = (pruned: number, revived: number): LazyTurnMetrics => ({
  pruneLayers: [8],
  keep: [0.7],
  pool: 15,
  scoreFrom: 3,
  span: 0,
  obsWindow: 18,
  segments: [],
  pruned,
  auxBytes: 0,
  revived,
  reviveMs: 0,
});

describe('what a turn leaves for the next question', () => {
  it('the exact caches are whole: full, a KV type, SimLayerKV from a profile or layers=', () => {
    for (const spec of ['full', 'kv:type=q8_0', 'simlayerkv:layers=2/4', 'simlayerkv:layers=2/4+kv:type=q8_0']) {
      expect(plan(spec).afterTurn, spec).toEqual({ cache: 'whole' });
    }
  });

  it('lazy prefill is revivable (revive=off) or whole (revive=on)', () => {
    expect(plan('lazy').afterTurn).toEqual({ cache: 'revivable' });
    expect(plan('lazy:revive=on').afterTurn).toEqual({ cache: 'whole' });
  });

  it('an evictor keeps what it kept for the next question, alone or after a lazy prefill, and says so', () => {
    for (const spec of ['vatp:budget=0.2', 'streaming:budget=512', 'h2o:budget=0.2', 'vatp:budget=0.2,when=prompt', 'lazy+vatp:budget=0.2,pool=7', 'simlayerkv:layers=2/4+snapkv:budget=0.2']) {
      expect(plan(spec).afterTurn, spec).toEqual({ cache: 'kept', note: expect.stringMatching(/kept only the budget's tokens.*the next question goes on from them/) });
    }
  });

  it('an evictor whose follow-up reads again (followup=reread, reuse=disk) makes the cache partial, and says why', () => {
    expect(plan('vatp:budget=0.2,followup=reread').afterTurn).toEqual({ cache: 'partial', reason: expect.stringMatching(/reads the conversation again \(followup=reread\)/) });
    expect(plan('streaming:budget=512,followup=reread').afterTurn.cache).toBe('partial');
    const after = plan('vatp:budget=0.2,when=prompt,reuse=disk').afterTurn;
    expect(after).toEqual({ cache: 'partial', reason: expect.stringMatching(/restores the full KV stored on disk/) });
    expect(() => parsePolicy('vatp:budget=0.2,when=prompt,reuse=disk,followup=kept')).toThrow(/reuse=disk selects again from the full KV stored on disk; drop followup=kept/);
    expect(() => parsePolicy('vatp:budget=0.2,followup=later')).toThrow(/followup/);
  });

  it("SimLayerKV's per-prompt rules decide anew, so the next question reads again", () => {
    expect(plan('simlayerkv:rule=prefill').afterTurn).toMatchObject({ cache: 'partial', reason: expect.stringMatching(/prefill rule decides the trimmed layers/) });
  });

  it('a press the build cannot run declares nothing: lazy on the stock build runs a full prefill, whole', () => {
    expect(plan('lazy', stock).afterTurn).toEqual({ cache: 'whole' });
  });

  it("a turn's metrics say what stays: whole, reviving while idle, or nothing and why", () => {
    expect(conversationAfterTurn({ cache: 'whole' }, true, null)).toEqual({ next: 'whole', nextReason: null });
    expect(conversationAfterTurn({ cache: 'revivable' }, true, lazy(900, 0))).toEqual({ next: 'reviving', nextReason: null });
    // nothing pruned, or revived already: whole
    expect(conversationAfterTurn({ cache: 'revivable' }, true, lazy(0, 0))).toEqual({ next: 'whole', nextReason: null });
    expect(conversationAfterTurn({ cache: 'partial', reason: 'VATP kept 512' }, false, null)).toEqual({ next: 'none', nextReason: 'VATP kept 512' });
    expect(conversationAfterTurn({ cache: 'kept', note: 'VATP kept 512' }, true, null)).toEqual({ next: 'kept', nextReason: 'VATP kept 512' });
    expect(conversationAfterTurn({ cache: 'kept', note: 'VATP kept 512' }, false, null)).toEqual({ next: 'none', nextReason: null });
    // a probe or a failed turn keeps nothing
    expect(conversationAfterTurn({ cache: 'whole' }, false, null)).toEqual({ next: 'none', nextReason: null });
  });
});

describe('how much of the kept sequence a follow-up reuses', () => {
  it('any shared prefix, its tail erased, on a plain cache', () => {
    expect(historyFor(plan('full'), info(smol), 3000, false)).toEqual({ minShared: 1, allowErase: true });
  });

  it('a lazy turn reuses only a prefix of most of its prompt (a follow-up), else prefills lazily', () => {
    expect(historyFor(plan('lazy'), info(smol), 3001, true).minShared).toBe(1501);
  });

  it('windowed layers only extend: SimLayerKV trimmed layers, a sliding-window model without swa_full', () => {
    expect(historyFor(plan('simlayerkv:layers=2/4'), info(smol), 3000, false).allowErase).toBe(false);
    expect(historyFor(plan('full', patched, gemma), info(gemma), 3000, false).allowErase).toBe(false);
    // lazy prefill keeps every sliding-window token (swa_full), so its tail can be erased
    expect(historyFor(plan('lazy', patched, gemma), info(gemma), 3000, true).allowErase).toBe(true);
  });
});

describe('describeConversationCache', () => {
  it('says what was reused and what stays', () => {
    expect(describeConversationCache({ reusedTokens: 8012, revived: null, next: 'whole', nextReason: null })).toBe(
      'reused 8,012 prompt tokens the last turn left; kept whole for the next question',
    );
    expect(describeConversationCache({ reusedTokens: 0, revived: null, next: 'reviving', nextReason: null })).toBe(
      'read the whole prompt; kept for the next question, its pruned tokens revived while idle',
    );
  });

  it('says when the prefix was restored from a cache saved on disk', () => {
    const text = describeConversationCache({
      reusedTokens: 8012,
      revived: null,
      restored: { tokens: 8012, bytes: 180 * 1024 ** 2, ms: 310, savedAt: 0 },
      next: 'whole',
      nextReason: null,
    });
    expect(text).toMatch(/^restored 8,012 prompt tokens saved on disk \(180\.0 MiB in .+\); kept whole for the next question$/);
  });

  it('lazy+simlayerkv: says the first read will move into the trimmed layers, and the follow-up what the move did', () => {
    const first = describeConversationCache({ reusedTokens: 0, revived: null, next: 'reviving', nextReason: "then moved into the trimmed layers' cache (3 layers keep 4 first and 256 recent tokens)" });
    expect(first).toBe("read the whole prompt; kept for the next question, its pruned tokens revived while idle, then moved into the trimmed layers' cache (3 layers keep 4 first and 256 recent tokens)");
    const followUp = describeConversationCache({
      reusedTokens: 1000,
      revived: { tokens: 600, ms: 900, waitedMs: 0 },
      moved: { tokens: 1000, trimmedLayers: 3, fromBytes: 90 * 1024 ** 2, toBytes: 67.5 * 1024 ** 2, ms: 120, waitedMs: 0 },
      next: 'whole',
      nextReason: null,
    });
    expect(followUp).toMatch(/^reused 1,000 prompt tokens the last turn left \(.+revived while idle in .+\), moved into the trimmed layers' cache \(3 layers; 90\.0 MiB → 67\.5 MiB of KV in .+, waited .+\); kept whole for the next question$/);
  });

  it('names the revival and the wait, and why the next question reads again', () => {
    const text = describeConversationCache({ reusedTokens: 4000, revived: { tokens: 1800, ms: 1234, waitedMs: 0 }, next: 'none', nextReason: 'VATP kept only the budget' });
    expect(text).toMatch(/^reused 4,000 prompt tokens the last turn left \(the last answer's 1,800 pruned tokens revived while idle in .+, waited .+\); the next question reads it again: VATP kept only the budget$/);
  });
});

describe('how a follow-up goes on from what an evictor kept', () => {
  const t = (...tokens: number[]) => tokens as Token[];
  // the last turn's stream: prompt 0..9, answer 10..12; the cache kept 0, 1, 5, 8, 9, 10, 11 (12 sampled, never read)
  const evicted: EvictedConversation = { stream: t(100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112), origin: [0, 1, 5, 8, 9, 10, 11], promptTokens: 10, scores: null, plannedFor: 10 };
  const plain = { minShared: 1, allowErase: true };
  const windowed = { minShared: 1, allowErase: false };

  it('a prompt going on after everything the cache read keeps every held token and reads only the rest', () => {
    const prompt = t(100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114);
    expect(evictedContinuation(evicted, 7, prompt, plain)).toEqual({ covered: 12, keep: 7, origin: [0, 1, 5, 8, 9, 10, 11], scores: null });
    expect(evictedContinuation(evicted, 7, prompt, windowed)).toEqual({ covered: 12, keep: 7, origin: [0, 1, 5, 8, 9, 10, 11], scores: null });
  });

  it('an answer the prompt renders differently: the held tokens after the shared part are erased, where the layers allow it', () => {
    const prompt = t(100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 210, 211, 212);
    expect(evictedContinuation(evicted, 7, prompt, plain)).toEqual({ covered: 10, keep: 5, origin: [0, 1, 5, 8, 9], scores: null });
    expect(evictedContinuation(evicted, 7, prompt, windowed)).toBeNull();
  });

  it('the same question asked again goes on from all of it but the last prompt token', () => {
    const again = t(100, 101, 102, 103, 104, 105, 106, 107, 108, 109);
    expect(evictedContinuation(evicted, 7, again, plain)).toEqual({ covered: 9, keep: 4, origin: [0, 1, 5, 8], scores: null });
  });

  it('an edited question, another document with the same start, nothing shared or a held count that differs: read from the start', () => {
    // the kept tokens were chosen for the last question, so a prompt that changes it selects anew
    expect(evictedContinuation(evicted, 7, t(100, 101, 102, 103, 104, 105, 106, 107, 300, 301, 302), plain)).toBeNull();
    expect(evictedContinuation(evicted, 7, t(100, 101, 300, 301, 302), plain)).toBeNull();
    expect(evictedContinuation(evicted, 7, t(300, 301, 302), plain)).toBeNull();
    expect(evictedContinuation(evicted, 6, t(100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113), plain)).toBeNull();
  });

  it('carries the last ranking of the held tokens that stay', () => {
    const scores = { slots: [{ layer: 0, head: 0 }], scores: [new Float64Array([7, 6, 5, 4, 3, 2, 1])] };
    const prompt = t(100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 210, 211, 212);
    const continued = evictedContinuation({ ...evicted, scores }, 7, prompt, plain)!;
    expect(continued.scores).toEqual({ slots: [{ layer: 0, head: 0 }], scores: [new Float64Array([7, 6, 5, 4, 3])] });
  });
});
