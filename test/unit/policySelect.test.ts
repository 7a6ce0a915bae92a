// Policy auto (src-common/policy/select.ts) on a table of machines, models and prompts whose
// expected choice was worked out by hand from the shapes (KV bytes per token, compute buffers,
// weights) before the code ran, and a property test over random ones: a plan said to fit never
// predicts more than is free, and "does not fit" is said exactly when nothing the ladder offers fits.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { computeBytesEstimate, type ComputeShape } from '../../src-common/policy/computeBytes.js';
import { planContexts, predictKvCost } from '../../src-common/policy/contextPlan.js';
import type { NativeFeature } from '../../src-common/policy/press.js';
import { parsePolicy } from '../../src-common/policy/spec.js';
import type { FrontierPoint, ModelFrontier } from '../../src-common/policy/frontier.js';
import { canonicalPolicySetting, explicitPolicyWarning, MIN_BUDGET_TOKENS, parseAutoPolicy, predictPolicyBytes, selectPolicy, type Preference, type Selection, type SelectionInput, type SelectionModel } from '../../src-common/policy/select.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

type Shape = SelectionModel & ComputeShape;

function shape(s: Omit<Shape, 'contextSize'>, contextSize = Math.min(16_384, s.trainContextSize)): Shape {
  return { ...s, contextSize };
}

const SMOL = shape({ name: 'SmolLM2-135M', architecture: 'llama', layers: 30, kvHeads: 3, headDim: 64, heads: 9, embeddingLength: 576, feedForwardLength: 1536, vocabSize: 49152, weightsBytes: 100 * MiB, trainContextSize: 8192 });
const QWEN_05B = shape({ name: 'Qwen2.5-0.5B', architecture: 'qwen2', layers: 24, kvHeads: 2, headDim: 64, heads: 14, embeddingLength: 896, feedForwardLength: 4864, vocabSize: 151936, weightsBytes: 0.4 * GiB, trainContextSize: 32768 });
const LLAMA_1B = shape({ name: 'Llama-3.2-1B', architecture: 'llama', layers: 16, kvHeads: 8, headDim: 64, heads: 32, embeddingLength: 2048, feedForwardLength: 8192, vocabSize: 128256, weightsBytes: 0.8 * GiB, trainContextSize: 131072 });
const LLAMA_8B_BASE = { name: 'Llama-3.1-8B', architecture: 'llama', layers: 32, kvHeads: 8, headDim: 128, heads: 32, embeddingLength: 4096, feedForwardLength: 14336, vocabSize: 128256, weightsBytes: 4.9e9, trainContextSize: 131072 };
const LLAMA_8B = shape(LLAMA_8B_BASE);
const LLAMA_8B_128K = shape(LLAMA_8B_BASE, 131072);
const QWEN_14B = shape({ name: 'Qwen2.5-14B', architecture: 'qwen2', layers: 48, kvHeads: 8, headDim: 128, heads: 40, embeddingLength: 5120, feedForwardLength: 13824, vocabSize: 152064, weightsBytes: 9.0e9, trainContextSize: 131072 });
const LLAMA_70B = shape({ name: 'Llama-3.1-70B', architecture: 'llama', layers: 80, kvHeads: 8, headDim: 128, heads: 64, embeddingLength: 8192, feedForwardLength: 28672, vocabSize: 128256, weightsBytes: 42.5e9, trainContextSize: 131072 });
const GEMMA2_2B = shape({ name: 'gemma-2-2b', architecture: 'gemma2', layers: 26, kvHeads: 4, headDim: 256, heads: 8, embeddingLength: 2304, feedForwardLength: 9216, vocabSize: 256000, weightsBytes: 1.7e9, trainContextSize: 8192 });

const PATCHED = new Set<NativeFeature>(['kvBudgets', 'lazyPrefill', 'observation']);
const STOCK = new Set<NativeFeature>();

interface Scenario {
  model: Shape;
  prompt: number;
  free: number;
  expected: 'full' | 'sized' | 'q8_0' | 'sized-q8_0' | 'lazy' | 'evict' | 'none';
  /** Words the explanation must hold. */
  says?: RegExp;
  margin?: number;
  loaded?: boolean;
  preference?: Preference;
  memory?: string;
  /** The model runs on that GPU (memory names it). */
  gpu?: boolean;
  stock?: boolean;
  /** The model's measured frontier (sift calibrate); none: not calibrated. */
  frontier?: ModelFrontier;
}

function point(policy: string, family: FrontierPoint['family'], top1: number, ttftSpeedup: number, budgetFraction: number | null = null): FrontierPoint {
  return { policy, family, budgetFraction, kept: Math.round(top1 * 4), sameAnswer: Math.round(top1 * 5), top1, ttftSpeedup, kvSmaller: budgetFraction ? 1 / budgetFraction : 1 };
}

function frontierOf(points: FrontierPoint[]): ModelFrontier {
  return { questions: 10, fullCorrect: 4, promptTokens: 2000, points, source: 'calibrate', machine: 'test', measuredAt: '2026-12-04T00:00:00Z' };
}

/** A calibration where the default lazy schedule lost 5.2 points for a 1.32× sooner first token, a faster one 7.7 for 1.68×. */
const MEASURED = frontierOf([
  point('lazy', 'lazy', 0.948, 1.32),
  point('lazy:at=8/16/24,keep=0.6/0.4/0.25,from=last,window=question', 'lazy', 0.923, 1.68),
  point('vatp:budget=0.5,pool=7', 'eviction', 0.9, 0.9, 0.5),
  point('vatp:budget=0.2,pool=7', 'eviction', 0.78, 0.86, 0.2),
  point('keydiff:budget=0.2', 'eviction', 0.81, 0.88, 0.2),
]);

function input(s: Scenario): SelectionInput {
  return {
    model: s.model,
    promptTokens: s.prompt,
    answerTokens: 512,
    freeBytes: s.free,
    memoryName: s.memory ?? 'RAM',
    onGpu: s.gpu ?? false,
    weightsLoaded: s.loaded ?? false,
    marginBytes: s.margin ?? Math.max(256 * MiB, Math.round(s.free * 0.1)),
    computeBytes: (ctx) => computeBytesEstimate(s.model, ctx),
    options: { batchSize: 512, flashAttention: false, swaFullCache: false, features: s.stock ? STOCK : PATCHED },
    profile: null,
    frontier: s.frontier ?? null,
    preference: s.preference ?? 'balanced',
  };
}

function kindOf(selection: Selection): Scenario['expected'] {
  if (!selection.fits) return 'none';
  const p = selection.policy;
  if (p === 'full') return 'full';
  if (p === 'kv:type=q8_0') return 'q8_0';
  if (p.startsWith('lazy')) return 'lazy';
  if (p.startsWith('streaming:')) return p.includes('q8_0') ? 'sized-q8_0' : 'sized';
  if (/^(vatp|keydiff|snapkv):/.test(p)) return 'evict';
  throw new Error(`unexpected policy ${p}`);
}

// Worked by hand (MiB): e.g. SmolLM2 at its 8k context: full KV 180, compute 166 without flash
// attention (98 with it, or with an 8-bit cache), weights 100; Llama-3.1-8B at 16k: full KV 2048,
// compute 1112, weights 4673; 8-bit KV is 17/32 of f16.
const SCENARIOS: Array<[string, Scenario]> = [
  // CPU, SmolLM2-135M
  ['SmolLM2, 1k prompt, 8 GiB free', { model: SMOL, prompt: 1024, free: 8 * GiB, expected: 'full', says: /a full KV cache \(180\.0 MiB\) fits/ }],
  ['SmolLM2, 4k prompt, 16 GiB free', { model: SMOL, prompt: 4096, free: 16 * GiB, expected: 'full' }],
  ['SmolLM2, 6k prompt, 400 MiB free: the sized cache (382) misses, 8-bit (294) fits', { model: SMOL, prompt: 6000, free: 400 * MiB, margin: 64 * MiB, expected: 'q8_0', says: /8-bit KV cache/ }],
  // an evictor's context evaluates batches of an eighth of its budget (at most 512), so its compute
  // buffers shrink with it: a 1,792-token cache computes 224-token batches (43 MiB of logits)
  ['SmolLM2, 1k prompt, 300 MiB free: a cache sized to the prompt (182)', { model: SMOL, prompt: 1024, free: 300 * MiB, margin: 32 * MiB, expected: 'sized', says: /cache of 1,792 tokens holds this prompt and its answer/ }],
  ['SmolLM2, 1k prompt, 205 MiB free: an 8-bit cache sized to the prompt (164)', { model: SMOL, prompt: 1024, free: 205 * MiB, margin: 32 * MiB, expected: 'sized-q8_0', says: /8-bit \(near-exact\) cache of 1,792 tokens/ }],
  ['SmolLM2, 6k prompt, 230 MiB free: evicts to ~1.3k tokens', { model: SMOL, prompt: 6000, free: 230 * MiB, margin: 16 * MiB, expected: 'evict', says: /most important tokens/ }],
  ['SmolLM2, 1k prompt, 150 MiB free: evicts to ~900 tokens (small batches, small compute)', { model: SMOL, prompt: 1024, free: 150 * MiB, margin: 16 * MiB, expected: 'evict' }],
  ['SmolLM2, 1k prompt, 120 MiB free: even 256 tokens need 109', { model: SMOL, prompt: 1024, free: 120 * MiB, margin: 16 * MiB, expected: 'none', says: /even keeping only 256 tokens needs 10\d\.\d MiB/ }],
  ['SmolLM2, 80 MiB free: the weights alone do not fit', { model: SMOL, prompt: 1024, free: 80 * MiB, margin: 0, expected: 'none', says: /weights alone need 100\.0 MiB/ }],
  ['SmolLM2, 12k prompt over an 8k context: only eviction answers, through a quarter of it', { model: SMOL, prompt: 12000, free: 8 * GiB, expected: 'evict', says: /more than the model reads at once \(8,192\): keeping the most important tokens \(value-aware eviction\) in a cache of 2,048 tokens/ }],
  ['SmolLM2, 12k prompt, preference exact: refused, with why', { model: SMOL, prompt: 12000, free: 8 * GiB, preference: 'exact', expected: 'none', says: /An exact answer needs the whole prompt/ }],
  ['SmolLM2 loaded, 4k prompt, 200 MiB free: 8-bit (194) where full (346) and sized (208) miss', { model: SMOL, prompt: 4096, free: 200 * MiB, margin: 0, loaded: true, expected: 'q8_0' }],
  ['SmolLM2 on the stock build, 228 MiB usable: nothing exact fits and it cannot evict', { model: SMOL, prompt: 1024, free: 260 * MiB, margin: 32 * MiB, stock: true, expected: 'none', says: /this build cannot evict/ }],
  // Qwen2.5-0.5B
  ['Qwen2.5-0.5B, 2k prompt, 16 GiB free', { model: QWEN_05B, prompt: 2048, free: 16 * GiB, expected: 'full' }],
  ['Qwen2.5-0.5B, 2k prompt, 1 GiB free: sized (743) where full (1101) misses', { model: QWEN_05B, prompt: 2048, free: 1 * GiB, expected: 'sized' }],
  ['Qwen2.5-0.5B calibrated, 2k prompt, prefer fast: the faster lazy schedule (7.7 points within 10)', { model: QWEN_05B, prompt: 2048, free: 16 * GiB, preference: 'fast', frontier: MEASURED, expected: 'lazy', says: /faster first token.*1\.68× sooner.*within the 10 points fast allows/ }],
  ['Qwen2.5-0.5B not calibrated, 2k prompt, prefer fast: full KV, lazy unmeasured here', { model: QWEN_05B, prompt: 2048, free: 16 * GiB, preference: 'fast', expected: 'full' }],
  ['Qwen2.5-0.5B calibrated, 2k prompt, balanced: full (lazy lost more than 2 points)', { model: QWEN_05B, prompt: 2048, free: 16 * GiB, frontier: MEASURED, expected: 'full' }],
  ['Qwen2.5-0.5B, 1k prompt, prefer fast: too short for lazy to pay', { model: QWEN_05B, prompt: 1024, free: 16 * GiB, preference: 'fast', expected: 'full' }],
  ['Qwen2.5-0.5B, 20k prompt over a 16k context', { model: QWEN_05B, prompt: 20000, free: 16 * GiB, expected: 'evict' }],
  ['Qwen2.5-0.5B, 8k prompt, prefer exact, 16 GiB', { model: QWEN_05B, prompt: 8192, free: 16 * GiB, preference: 'exact', expected: 'full' }],
  // Llama-3.2-1B
  ['Llama-3.2-1B, 8k prompt, 8 GiB free', { model: LLAMA_1B, prompt: 8192, free: 8 * GiB, expected: 'full' }],
  ['Llama-3.2-1B, 8k prompt, 2 GiB free: sized (1709) where full (2419) misses', { model: LLAMA_1B, prompt: 8192, free: 2 * GiB, expected: 'sized' }],
  ['Llama-3.2-1B, 8k prompt, 1.8 GiB free: 8-bit (1349)', { model: LLAMA_1B, prompt: 8192, free: 1843 * MiB, expected: 'q8_0' }],
  ['Llama-3.2-1B, 14k prompt, 1.5 GiB free: evicts (~12k tokens)', { model: LLAMA_1B, prompt: 14000, free: 1.5 * GiB, expected: 'evict' }],
  // Llama-3.1-8B, 16k context
  ['Llama-3.1-8B, 4k prompt, 16 GiB RAM', { model: LLAMA_8B, prompt: 4096, free: 16 * GiB, expected: 'full' }],
  ['Llama-3.1-8B, 4k prompt, 8 GiB RAM: sized (5650) where full (7833) misses', { model: LLAMA_8B, prompt: 4096, free: 8 * GiB, expected: 'sized' }],
  ['Llama-3.1-8B, 14k prompt, 8 GiB RAM: 8-bit (6027) where sized (7493) misses', { model: LLAMA_8B, prompt: 14000, free: 8 * GiB, expected: 'q8_0' }],
  ['Llama-3.1-8B, 14k prompt, 6 GiB RAM: evicts (~8.9k tokens)', { model: LLAMA_8B, prompt: 14000, free: 6 * GiB, expected: 'evict' }],
  ['Llama-3.1-8B, 14k prompt, 6 GiB RAM, prefer exact: refused', { model: LLAMA_8B, prompt: 14000, free: 6 * GiB, preference: 'exact', expected: 'none', says: /allow a balanced choice/ }],
  ['Llama-3.1-8B, 4 GiB RAM: the weights alone do not fit', { model: LLAMA_8B, prompt: 4096, free: 4 * GiB, expected: 'none', says: /weights alone/ }],
  // Llama-3.1-8B, 128k context
  ['Llama-3.1-8B 128k, 100k prompt, 64 GiB RAM: full (28.9 GiB)', { model: LLAMA_8B_128K, prompt: 100_000, free: 64 * GiB, expected: 'full' }],
  ['Llama-3.1-8B 128k, 100k prompt, 24 GiB RAM: 8-bit (13.3 GiB) where sized (23.2) misses', { model: LLAMA_8B_128K, prompt: 100_000, free: 24 * GiB, expected: 'q8_0' }],
  ['Llama-3.1-8B 128k, 100k prompt, 16 GiB RAM: 8-bit', { model: LLAMA_8B_128K, prompt: 100_000, free: 16 * GiB, expected: 'q8_0' }],
  ['Llama-3.1-8B 128k, 100k prompt, 12 GiB RAM: evicts (~92k tokens)', { model: LLAMA_8B_128K, prompt: 100_000, free: 12 * GiB, expected: 'evict' }],
  ['Llama-3.1-8B 128k, 140k prompt: over the context, evicts', { model: LLAMA_8B_128K, prompt: 140_000, free: 64 * GiB, expected: 'evict', says: /131,072/ }],
  // Qwen2.5-14B
  ['Qwen2.5-14B, 8k prompt, 32 GiB RAM', { model: QWEN_14B, prompt: 8192, free: 32 * GiB, expected: 'full' }],
  ['Qwen2.5-14B, 8k prompt, 12.5 GiB RAM: sized (11034) where full (13021) misses', { model: QWEN_14B, prompt: 8192, free: 12.5 * GiB, expected: 'sized' }],
  ['Qwen2.5-14B, 8 GiB RAM: the weights alone do not fit', { model: QWEN_14B, prompt: 8192, free: 8 * GiB, expected: 'none', says: /weights alone/ }],
  // Llama-3.1-70B
  ['Llama-3.1-70B, 4k prompt, 64 GiB RAM: full (46.7 GiB)', { model: LLAMA_70B, prompt: 4096, free: 64 * GiB, expected: 'full' }],
  ['Llama-3.1-70B, 4k prompt, 48 GiB RAM: sized (41.8 GiB)', { model: LLAMA_70B, prompt: 4096, free: 48 * GiB, expected: 'sized' }],
  ['Llama-3.1-70B, 32 GiB RAM: the weights alone do not fit', { model: LLAMA_70B, prompt: 4096, free: 32 * GiB, expected: 'none', says: /weights alone need 39\.6 GiB/ }],
  // GPUs
  ['Llama-3.1-8B, 4k prompt, 24 GiB VRAM', { model: LLAMA_8B, prompt: 4096, free: 24 * GiB, memory: 'CUDA0', expected: 'full', says: /of CUDA0 is free/ }],
  ['Llama-3.1-8B, 12k prompt, 8 GiB VRAM: sized (7105)', { model: LLAMA_8B, prompt: 12000, free: 8 * GiB, memory: 'CUDA0', expected: 'sized' }],
  ['Llama-3.1-8B, 4 GiB VRAM: the weights alone do not fit', { model: LLAMA_8B, prompt: 4096, free: 4 * GiB, memory: 'CUDA0', expected: 'none' }],
  ['Llama-3.1-70B, 4k prompt, 80 GiB VRAM', { model: LLAMA_70B, prompt: 4096, free: 80 * GiB, memory: 'CUDA0', expected: 'full' }],
  ['Llama-3.2-1B, 4k prompt, 4 GiB VRAM: full (2.4 GiB)', { model: LLAMA_1B, prompt: 4096, free: 4 * GiB, memory: 'Vulkan0', expected: 'full' }],
  // a sliding-window model
  ['gemma-2-2b, 4k prompt, 8 GiB RAM', { model: GEMMA2_2B, prompt: 4096, free: 8 * GiB, expected: 'full' }],
  ['gemma-2-2b calibrated, 4k prompt, prefer fast: lazy prefill', { model: GEMMA2_2B, prompt: 4096, free: 8 * GiB, preference: 'fast', frontier: MEASURED, expected: 'lazy' }],
  ['gemma-2-2b calibrated, 4k prompt, prefer fast, on a GPU: full (lazy measured slower there)', { model: GEMMA2_2B, prompt: 4096, free: 8 * GiB, memory: 'VRAM', gpu: true, preference: 'fast', frontier: MEASURED, expected: 'full' }],
  ['Qwen2.5-0.5B calibrated, 2k prompt, prefer fast, on a GPU: full', { model: QWEN_05B, prompt: 2048, free: 16 * GiB, memory: 'VRAM', gpu: true, preference: 'fast', frontier: MEASURED, expected: 'full' }],
  ['Llama-3.1-8B calibrated, 14k prompt, 6 GiB RAM: evicts by the scorer that kept most here (KeyDiff)', { model: LLAMA_8B, prompt: 14000, free: 6 * GiB, frontier: MEASURED, expected: 'evict', says: /KeyDiff eviction/ }],
];

describe('auto on a table of machines, models and prompts', () => {
  it('has at least 40 scenarios', () => expect(SCENARIOS.length).toBeGreaterThanOrEqual(40));

  it.each(SCENARIOS)('%s', (_name, scenario) => {
    const selection = selectPolicy(input(scenario));
    expect(kindOf(selection), selection.explanation).toBe(scenario.expected);
    if (scenario.says) expect(selection.explanation).toMatch(scenario.says);
    if (selection.fits) {
      expect(selection.predictedBytes.peak).toBeLessThanOrEqual(selection.availableBytes);
      expect(selection.lossy).toBe(scenario.expected === 'evict' || scenario.expected === 'lazy');
      // a lossy choice says what this model's calibration measured of it, or that there is none
      // a prompt over the context: the long-document evictor, at most a quarter of the context, whatever the calibration
      const overContext = scenario.prompt + 512 > scenario.model.contextSize;
      if (selection.lossy && scenario.expected === 'evict' && overContext) {
        expect(selection.policy).toMatch(/^vatp:budget=\d+,pool=15,heads=max,recall=64(\+kv:type=q8_0)?$/);
        expect(Number(/budget=(\d+)/.exec(selection.policy)![1])).toBeLessThanOrEqual(scenario.model.contextSize / 4);
        expect(selection.notices.join(' ')).toMatch(/read through a cache of a quarter of it/);
        expect(selection.explanation).toMatch(/the passages the question ranks highest read again just before it/);
      } else if (selection.lossy && scenario.expected === 'evict') {
        expect(selection.notices.join(' ')).toMatch(scenario.frontier ? /On this model, keeping 20% of a 2,000-token prompt/ : /not calibrated on this model/);
      }
      if (!selection.lossy && scenario.preference === 'fast' && !scenario.frontier && scenario.prompt >= 2048) expect(selection.notices.join(' ')).toMatch(/Lazy prefill is not calibrated on this model/);
    } else if (scenario.prompt + 512 <= scenario.model.contextSize) {
      // refused for memory (not for a prompt over the context): what came closest does not fit
      expect(selection.predictedBytes.peak).toBeGreaterThan(selection.availableBytes);
    }
  });
});

describe('auto on random shapes, memories and prompts', () => {
  const shapes = fc.record({
    layers: fc.integer({ min: 1, max: 96 }),
    kvHeads: fc.integer({ min: 1, max: 16 }),
    headDim: fc.constantFrom(64, 80, 96, 128, 256),
    heads: fc.integer({ min: 1, max: 64 }),
    embeddingLength: fc.integer({ min: 256, max: 8192 }),
    feedForwardLength: fc.integer({ min: 512, max: 32768 }),
    vocabSize: fc.integer({ min: 1000, max: 260_000 }),
    weightsBytes: fc.integer({ min: 10 * MiB, max: 80 * GiB }),
    contextSize: fc.constantFrom(2048, 4096, 8192, 16384, 32768, 131072),
    architecture: fc.constantFrom('llama', 'qwen2', 'gemma2', 'mistral3'),
  });
  const scenarios = fc.record({
    shape: shapes,
    prompt: fc.integer({ min: 1, max: 200_000 }),
    free: fc.integer({ min: 0, max: 128 * GiB }),
    loaded: fc.boolean(),
    preference: fc.constantFrom<Preference>('exact', 'balanced', 'fast'),
  });

  it('never says a plan fits that predicts more than is free, and says "does not fit" only when nothing fits', () => {
    fc.assert(
      fc.property(scenarios, ({ shape: s, prompt, free, loaded, preference }) => {
        const model: Shape = { ...s, name: 'random', trainContextSize: s.contextSize };
        const scenario: Scenario = { model, prompt, free, loaded, preference, expected: 'full' };
        const selection = selectPolicy(input(scenario));
        if (selection.fits) return selection.predictedBytes.peak <= selection.availableBytes;
        // nothing the ladder offers fits: the exact ones, and (unless exact) the smallest eviction
        const alternatives = ['full', 'kv:type=q8_0', ...(preference === 'exact' ? [] : [`vatp:budget=${MIN_BUDGET_TOKENS},pool=7+kv:type=q8_0`])];
        const tooLong = prompt + 512 > s.contextSize;
        return alternatives.every((policy) => {
          if (tooLong && !policy.startsWith('vatp')) return true;
          if (policy.startsWith('vatp') && Math.min(prompt + 512, s.contextSize) < MIN_BUDGET_TOKENS) return true;
          return peakOf(scenario, policy) > selection.availableBytes;
        });
      }),
      { numRuns: 300 },
    );
  });
});

/** A policy's predicted peak for a scenario, from the presses' cost model (what auto compares with the free memory). */
function peakOf(scenario: Scenario, policy: string): number {
  const i = input(scenario);
  const plan = planContexts(parsePolicy(policy), i.model, i.promptTokens, null, i.options);
  const kv = predictKvCost(plan, i.model, null);
  const compute = Math.max(i.computeBytes(plan.shape), plan.prefillShape ? i.computeBytes(plan.prefillShape) : 0);
  return (i.weightsLoaded ? 0 : i.model.weightsBytes) + kv.peakKvBytes + compute;
}

describe('the auto setting', () => {
  it('reads auto and its one knob, and refuses others with the reason', () => {
    expect(parseAutoPolicy('auto')).toEqual({ spec: 'auto', preference: 'balanced' });
    expect(parseAutoPolicy('auto:prefer=fast')).toEqual({ spec: 'auto:prefer=fast', preference: 'fast' });
    expect(parseAutoPolicy('auto:prefer=balanced')?.spec).toBe('auto');
    expect(parseAutoPolicy('full')).toBeNull();
    expect(() => parseAutoPolicy('auto:prefer=slow')).toThrow(/must be one of exact, balanced, fast/);
    expect(() => parseAutoPolicy('auto:budget=1')).toThrow(/one knob, prefer=/);
    expect(canonicalPolicySetting(' auto ')).toBe('auto');
    expect(canonicalPolicySetting('kv:type=q8_0')).toBe('kv:type=q8_0');
  });

  it('keeps full KV under prefer=fast on a GPU, and says why', () => {
    const onCpu = selectPolicy(input({ model: QWEN_05B, prompt: 2048, free: 16 * GiB, preference: 'fast', frontier: MEASURED, expected: 'lazy' }));
    const onGpu = selectPolicy(input({ model: QWEN_05B, prompt: 2048, free: 16 * GiB, memory: 'VRAM', gpu: true, preference: 'fast', frontier: MEASURED, expected: 'full' }));
    expect(onCpu.policy).toBe('lazy:at=8/16/24,keep=0.6/0.4/0.25,from=last,window=question');
    expect(onGpu.policy).toBe('full');
    expect(onGpu.lossy).toBe(false);
    expect(onGpu.notices.join(' ')).toMatch(/runs on a GPU: lazy prefill was measured there only with a 135M model, slower than full KV/);
  });
});

describe('auto from a measured frontier', () => {
  it('lets balanced take lazy prefill only where this model lost at most 2 points, and says what was measured', () => {
    const gentle = frontierOf([point('lazy', 'lazy', 0.985, 1.3)]);
    const selection = selectPolicy(input({ model: QWEN_05B, prompt: 4096, free: 16 * GiB, frontier: gentle, expected: 'lazy' }));
    expect(selection.policy).toBe('lazy');
    expect(selection.explanation).toMatch(/1\.30× sooner and kept 4 of the 4 answers full KV got right and agreed with 98\.5% of full KV's answer tokens, within the 2 points balanced allows/);
    expect(selectPolicy(input({ model: QWEN_05B, prompt: 4096, free: 16 * GiB, frontier: gentle, preference: 'exact', expected: 'full' })).policy).toBe('full');
  });

  it('keeps full KV when lazy prefill lost more than fast allows, and says how much it lost', () => {
    const lossy = frontierOf([point('lazy', 'lazy', 0.7, 3.6)]);
    const selection = selectPolicy(input({ model: QWEN_05B, prompt: 4096, free: 16 * GiB, frontier: lossy, preference: 'fast', expected: 'full' }));
    expect(selection.policy).toBe('full');
    expect(selection.notices.join(' ')).toMatch(/lazy prefill lost at least 30\.0 points .* more than fast allows \(10\)/);
  });

  it('does not take a lazy schedule that was measured no faster', () => {
    const slow = frontierOf([point('lazy', 'lazy', 0.99, 1.02)]);
    expect(selectPolicy(input({ model: QWEN_05B, prompt: 4096, free: 16 * GiB, frontier: slow, preference: 'fast', expected: 'full' })).policy).toBe('full');
  });

  it('evicts with the measured scorer, keeping its own knobs', () => {
    const vatpBest = frontierOf([point('vatp:budget=0.2,pool=7', 'eviction', 0.8, 0.9, 0.2), point('snapkv:budget=0.2', 'eviction', 0.7, 0.9, 0.2)]);
    const selection = selectPolicy(input({ model: SMOL, prompt: 6000, free: 230 * MiB, margin: 16 * MiB, frontier: vatpBest, expected: 'evict' }));
    expect(selection.policy).toMatch(/^vatp:budget=\d+,pool=7\+kv:type=q8_0$/);
    expect(selection.notices.join(' ')).toMatch(/vatp kept 3 of the 4 answers full KV got right and agreed with 80\.0%/);
  });
});

describe('SimLayerKV in the lossy step, by measured loss', () => {
  // SmolLM2 with a calibrated profile: 16 of its 30 layers keep only 4 sinks and 256 recent tokens
  const profile = { scores: Array.from({ length: 30 }, (_, l) => (l >= 14 ? 0.95 : 0.5)), delta: 0.9, trimmedLayers: Array.from({ length: 16 }, (_, k) => 14 + k), sink: 4, window: 256 };
  const withTrim = (top1: number) => frontierOf([...MEASURED.points, point('simlayerkv', 'simlayerkv', top1, 1.1)]);
  const margin = 16 * MiB;
  const at = (free: number, frontier: ModelFrontier | null, withProfile = true): SelectionInput => ({
    ...input({ model: SMOL, prompt: 6000, free, margin, expected: 'evict' }),
    profile: withProfile ? profile : null,
    frontier,
  });
  const peak = (free: number, policy: string) => predictPolicyBytes(at(free, null), policy).peak;
  // between the trimmed 8-bit cache and the smallest exact one (an 8-bit cache sized to the prompt)
  const trimmedFits = Math.round((peak(GiB, 'simlayerkv+kv:type=q8_0') + peak(GiB, 'streaming:budget=6520+kv:type=q8_0')) / 2) + margin;

  it('trims the lazy layers when that fits and this model measured it losing least', () => {
    expect(peak(GiB, 'simlayerkv+kv:type=q8_0')).toBeLessThan(peak(GiB, 'streaming:budget=6520+kv:type=q8_0'));
    // eviction keeping 94% of the prompt is read off the frontier as ~1.5 points lost: trimming must lose less
    const selection = selectPolicy(at(trimmedFits, withTrim(0.99)));
    expect(selection.fits).toBe(true);
    expect(selection.policy).toBe('simlayerkv+kv:type=q8_0');
    expect(selection.predictedBytes.peak).toBeLessThanOrEqual(selection.availableBytes);
    expect(selection.explanation).toMatch(/trimming 16 of 30 layers to their first and most recent tokens in an 8-bit cache \(.* expected to agree with about 99% of full KV's answer tokens\)/);
    expect(selection.notices.join(' ')).toMatch(/SimLayerKV trims 16 of the model's 30 layers.*agreed with 99\.0%/);
  });

  it('evicts instead when trimming measured worse than the eviction that fits', () => {
    const selection = selectPolicy(at(trimmedFits, withTrim(0.6)));
    expect(selection.policy).toMatch(/^keydiff:budget=\d+\+kv:type=q8_0$/);
    expect(selection.explanation).toMatch(/expected to agree with about \d+% of full KV's answer tokens/);
  });

  it('without a profile or a measurement of it, evicts as before', () => {
    expect(selectPolicy(at(trimmedFits, withTrim(0.99), false)).policy).toMatch(/^keydiff:budget=\d+\+kv:type=q8_0$/);
    expect(selectPolicy(at(trimmedFits, MEASURED)).policy).toMatch(/^keydiff:budget=\d+\+kv:type=q8_0$/);
  });

  it('trims and evicts together when trimming alone does not fit, keeping more tokens than eviction alone', () => {
    const free = Math.round(peak(GiB, 'simlayerkv+kv:type=q8_0') * 0.8) + margin;
    const alone = selectPolicy(at(free, MEASURED));
    const both = selectPolicy(at(free, withTrim(0.99)));
    expect(alone.policy).toMatch(/^keydiff:budget=(\d+)\+kv:type=q8_0$/);
    expect(both.policy).toMatch(/^simlayerkv\+keydiff:budget=\d+\+kv:type=q8_0$/);
    const budget = (p: string) => Number(/budget=(\d+)/.exec(p)![1]);
    expect(budget(both.policy)).toBeGreaterThan(budget(alone.policy));
    expect(both.predictedBytes.peak).toBeLessThanOrEqual(both.availableBytes);
    expect(both.explanation).toMatch(/trimming 16 of 30 layers .* and keeping the most important tokens \(KeyDiff eviction\) in an 8-bit cache of [\d,]+ tokens/);
  });
});

describe('a KV budget beside the memory', () => {
  // SmolLM2 at its 8k context: full f16 KV 180 MiB; an 8-bit cache is 17/32 of that (95.6 MiB)
  const ample: Scenario = { model: SMOL, prompt: 6000, free: 8 * GiB, expected: 'full' };

  it('keeps the KV within the budget when memory alone would allow a full cache, and says so', () => {
    const selection = selectPolicy({ ...input(ample), kvBudgetBytes: 100 * MiB });
    expect(selection.fits).toBe(true);
    expect(selection.predictedBytes.kv).toBeLessThanOrEqual(100 * MiB);
    expect(selection.policy).toBe('kv:type=q8_0');
    expect(selection.notices.join(' ')).toMatch(/held to the budget of 100\.0 MiB: a full cache would take 180\.0 MiB/);
  });

  it('evicts to the largest budgeted cache when no exact one is small enough', () => {
    const selection = selectPolicy({ ...input(ample), kvBudgetBytes: 40 * MiB });
    expect(kindOf(selection)).toBe('evict');
    expect(selection.predictedBytes.kv).toBeLessThanOrEqual(40 * MiB);
    // one step (256 cells) more would pass the budget
    const cells = Number(/budget=(\d+)/.exec(selection.policy)?.[1]);
    expect(peakOf(ample, `vatp:budget=${cells},pool=7+kv:type=q8_0`)).toBeLessThanOrEqual(selection.availableBytes);
    const next = selectPolicy({ ...input(ample), kvBudgetBytes: 40 * MiB + (17 / 32) * 256 * 30 * 2 * 3 * 64 * 2 });
    expect(Number(/budget=(\d+)/.exec(next.policy)?.[1])).toBe(cells + 256);
  });

  it('under prefer=exact, names the budget (not the memory) as what rules an exact cache out', () => {
    const selection = selectPolicy({ ...input({ ...ample, preference: 'exact' }), kvBudgetBytes: 40 * MiB });
    expect(selection.fits).toBe(false);
    expect(selection.explanation).toMatch(/over the KV budget of 40\.0 MiB: raise the budget/);
  });

  it('changes nothing when the budget is above what the choice needs', () => {
    const free = selectPolicy(input(ample));
    const budgeted = selectPolicy({ ...input(ample), kvBudgetBytes: 1 * GiB });
    expect(budgeted).toEqual(free);
  });
});

describe('an explicit policy and a prompt longer than the context', () => {
  // SmolLM2 at its 8k context, a 30k-token document
  const long: Scenario = { model: SMOL, prompt: 30_000, free: 8 * GiB, expected: 'evict' };

  it.each(['full', 'kv:type=q8_0', 'vatp:budget=0.2,when=prompt', 'lazy+vatp:budget=0.2'])('%s: warned before sending that it will be refused, with what auto would do', (policy) => {
    const warning = explicitPolicyWarning(input(long), policy);
    expect(warning).toMatch(/The prompt is 30,000 tokens, more than the 8,192 this model reads at once, and .* needs it whole in one context: it will be refused\. auto would choose vatp:budget=\d+/);
  });

  it.each(['vatp:budget=0.2,pool=7', 'snapkv:budget=2048', 'streaming:budget=1024'])('%s: a streaming evictor reads it whole, no warning', (policy) => {
    expect(explicitPolicyWarning(input(long), policy)).toBeNull();
  });
});

describe('a short prompt with a long answer allowance', () => {
  it('says the answer room, not the prompt, is what passes the context', () => {
    const small = { ...SMOL, contextSize: 1024 };
    const selection = selectPolicy({ ...input({ model: small, prompt: 40, free: 8 * GiB, expected: 'evict' }), answerTokens: 1024 });
    expect(selection.explanation).toMatch(/^The prompt is 40 tokens; with room for a 1,024-token answer that is more than the model reads at once \(1,024\)/);
  });
});
