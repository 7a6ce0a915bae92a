import { describe, expect, it } from 'vitest';
import { contextKvBytes, planContexts, predictKvCost, type ModelKvShape, type PlanOptions } from '../../src-common/policy/contextPlan.js';
import { parsePolicy } from '../../src-common/policy/spec.js';

// SmolLM2-135M: 30 layers, 3 KV heads of 64
const smol: ModelKvShape = { architecture: 'llama', layers: 30, kvHeads: 3, headDim: 64, contextSize: 8192 };
const patched: PlanOptions = { batchSize: 512, flashAttention: false, swaFullCache: false, features: new Set(['kvBudgets', 'lazyPrefill', 'observation']) };
const stock: PlanOptions = { ...patched, features: new Set() };
const F16_ROW = 3 * 64 * 2;

function plan(spec: string, prompt = 1000, options = patched, model = smol) {
  return planContexts(parsePolicy(spec), model, prompt, null, options);
}

describe('context plans and their KV cost', () => {
  it('full KV: every layer holds the whole context', () => {
    const p = plan('full');
    expect(p.applied).toEqual(['full']);
    expect(contextKvBytes(p.shape, smol)).toBe(30 * 2 * 8192 * F16_ROW);
    expect(predictKvCost(p, smol, null)).toEqual({ steadyKvBytes: 30 * 2 * 8192 * F16_ROW, peakKvBytes: 30 * 2 * 8192 * F16_ROW, exact: true });
  });

  it('kv:type=q8_0 stores 34 bytes per 32 elements and turns flash attention on', () => {
    const p = plan('kv:type=q8_0');
    expect(p.shape).toMatchObject({ kvType: 'q8_0', flashAttention: true });
    expect(contextKvBytes(p.shape, smol)).toBe(30 * 2 * 8192 * 6 * 34);
  });

  it('an eviction budget is the context: a fraction of the prompt, in 256-cell steps', () => {
    const p = plan('vatp:budget=0.25', 4000);
    expect(p.eviction).toMatchObject({ budgetTokens: 1024, headroom: 128 });
    expect(p.shape.contextSize).toBe(1024);
    expect(p.prefillShape).toBeNull();
    const cost = predictKvCost(p, smol, null);
    expect(cost.steadyKvBytes).toBe(30 * 2 * 1024 * F16_ROW);
    expect(cost.peakKvBytes).toBe(cost.steadyKvBytes);
  });

  it('lazy+evictor: the lazy prefill runs at full size, then one eviction round; peak full, steady the budget', () => {
    const p = plan('lazy+vatp:budget=0.25+kv:type=q8_0', 4000);
    expect(p.applied).toEqual(['kv', 'vatp', 'lazy']);
    expect(p.eviction).toMatchObject({ afterLazy: true, budgetTokens: 1024, policy: { when: 'prompt' } });
    expect(p.prefillShape).toMatchObject({ contextSize: 8192, batchSize: 512, kvType: 'q8_0' });
    expect(predictKvCost(p, smol, null)).toEqual({ steadyKvBytes: 30 * 2 * 1024 * 6 * 34, peakKvBytes: 30 * 2 * 8192 * 6 * 34, exact: true });
    // without the lazy prefill (a stock build) the evictor streams as it would alone
    const fallback = plan('lazy+vatp:budget=0.25', 4000, { ...patched, features: new Set(['kvBudgets', 'observation']) });
    expect(fallback.eviction).toMatchObject({ afterLazy: false, policy: { when: 'stream' } });
    expect(fallback.prefillShape).toBeNull();
    expect(fallback.notices).toEqual(['Lazy prefill needs the patched build; this turn ran a full prefill.']);
  });

  it('when=prompt prefills at full size first: peak full, steady the budget', () => {
    const cost = predictKvCost(plan('vatp:budget=0.25,when=prompt', 4000), smol, null);
    expect(cost.peakKvBytes).toBe(30 * 2 * 8192 * F16_ROW);
    expect(cost.steadyKvBytes).toBe(30 * 2 * 1024 * F16_ROW);
  });

  it('a byte budget counts the bytes of the layers it evicts from', () => {
    const p = plan('simlayerkv:layers=0/1/2/3/4/5,window=64+vatp:budget=4mb', 8000);
    // 4 MiB / (24 full layers x 2 x 384 bytes) = 227 tokens: the nearest 256-cell step
    expect(p.eviction!.budgetTokens).toBe(256);
  });

  it('SimLayerKV trimmed layers hold sinks, window and one batch, in 256-cell steps', () => {
    const p = plan('simlayerkv:layers=2/5,window=64');
    // 64 + 4 + 512 = 580 cells, padded to 768
    expect(contextKvBytes(p.shape, smol)).toBe((28 * 8192 + 2 * 768) * 2 * F16_ROW);
  });

  it('SimLayerKV per prompt: peak untrimmed, steady from the layers it decides', () => {
    const p = plan('simlayerkv:rule=prefill,window=64');
    expect(p.layerRule).toMatchObject({ rule: 'prefill', delta: 0.9 });
    expect(predictKvCost(p, smol, null).exact).toBe(false);
    const decided = predictKvCost(p, smol, null, [3, 4]);
    expect(decided).toEqual({ peakKvBytes: 30 * 2 * 8192 * F16_ROW, steadyKvBytes: (28 * 8192 + 2 * 768) * 2 * F16_ROW, exact: true });
  });

  it('SimLayerKV per prompt with an evictor: prefilled at full size, then the budget with the decided layers trimmed', () => {
    const p = plan('simlayerkv:rule=prefill,window=64+vatp:budget=0.25', 8000);
    expect(p.layerRule).toMatchObject({ rule: 'prefill' });
    expect(p.eviction!.policy.when).toBe('prompt');
    expect(p.shape.contextSize).toBe(2048);
    expect(p.prefillShape!.contextSize).toBe(8192);
    // trimmed layers: 64 + 4 + a 256-token batch (the budget's headroom) = 324 cells, padded to 512
    const decided = predictKvCost(p, smol, null, [3, 4]);
    expect(decided).toEqual({ peakKvBytes: 30 * 2 * 8192 * F16_ROW, steadyKvBytes: (28 * 2048 + 2 * 512) * 2 * F16_ROW, exact: true });
  });

  it('lazy+simlayerkv: the first read is lazy at full size, the conversation then moves into the trimmed layers; peak full, steady trimmed', () => {
    const p = plan('lazy+simlayerkv:layers=2/5,window=64');
    expect(p.applied).toEqual(['simlayerkv', 'lazy']);
    expect(p.trimAfterRevival).toBe(true);
    expect(p.shape).toMatchObject({ trimmedLayers: [2, 5], sink: 4, window: 64 });
    expect(p.prefillShape).toMatchObject({ trimmedLayers: [], sink: 0, window: 0, contextSize: 8192 });
    expect(p.afterTurn).toEqual({ cache: 'revivable' });
    expect(predictKvCost(p, smol, null)).toEqual({ peakKvBytes: 30 * 2 * 8192 * F16_ROW, steadyKvBytes: (28 * 8192 + 2 * 768) * 2 * F16_ROW, exact: true });
    // no layer trimmed (delta above 1): lazy alone, one context
    const none = plan('lazy+simlayerkv:delta=2');
    expect(none.trimAfterRevival).toBe(false);
    expect(none.prefillShape).toBeNull();
  });

  it('lazy+simlayerkv+evictor: the lazy prefill runs untrimmed at full size, the budget keeps the trimmed layers', () => {
    const p = plan('lazy+simlayerkv:layers=2/5,window=64+vatp:budget=0.25', 8000);
    expect(p.trimAfterRevival).toBe(false);
    expect(p.eviction).toMatchObject({ afterLazy: true, budgetTokens: 2048 });
    expect(p.prefillShape).toMatchObject({ trimmedLayers: [], contextSize: 8192, batchSize: 512 });
    expect(p.shape).toMatchObject({ trimmedLayers: [2, 5], contextSize: 2048 });
  });

  it('a press the build cannot run is left out with a notice that says what ran instead', () => {
    const p = plan('lazy+kv:type=q8_0', 1000, stock);
    expect(p.applied).toEqual(['kv']);
    expect(p.notices).toEqual(['Lazy prefill needs the patched build; this turn ran a full prefill.']);
    expect(plan('vatp:budget=0.2', 1000, stock).notices).toEqual(['VATP needs the patched build; this turn kept every token.']);
    // StreamingLLM ranks nothing: it runs on the stock build
    expect(plan('streaming:budget=0.2', 1000, stock).eviction?.budgetTokens).toBe(256);
    const phi3 = { ...smol, architecture: 'phi3' };
    expect(plan('simlayerkv:layers=1', 1000, patched, phi3).notices).toEqual(['SimLayerKV does not support phi3 models yet; this turn trimmed no layer.']);
  });

  it('lazy prefill on a sliding-window model keeps the whole window cache', () => {
    expect(plan('lazy', 1000, patched, { ...smol, architecture: 'gemma2' }).shape.swaFull).toBe(true);
    expect(plan('lazy').shape.swaFull).toBe(false);
  });

  it('reports a layer past the model as a policy error', () => {
    expect(() => plan('simlayerkv:layers=40')).toThrow(/past this model's last layer/);
  });
});
