// Sift's policies on the GPU backend the build carries (`npm run test:gpu`, not part of `npm test`).
// On the GPU: the patched build with no policy gives the stock build's logits bit for bit; each
// policy at its no-op setting gives `full`'s, bit for bit where it prefills as `full` does and
// within a stated rounding bound where it does not (below); each policy's GPU logits stay within the
// stated tolerance of the same build on the CPU. Without a GPU, Vulkan runs
// on Mesa's software driver (lavapipe), which ggml skips unless asked for (GGML_VK_VISIBLE_DEVICES).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient, forkEngineHost } from '../../src-main/engine/engineClient.js';
import type { LogitsProbeResult } from '../../src-engine/forcedLogits.js';
import { readBuildRecord } from '../../src-engine/nativeBuilds.js';
import type { LayerProfile } from '../../src-common/policy/simLayerKvLayers.js';
import { passkeyPrompt } from '../helpers/passkey.js';
import { testModelPath } from '../helpers/testModel.js';
import { compareLogits, type LogitsDifference } from './logitsDifference.js';

const gpu = readBuildRecord('patched')?.gpu ?? 'cpu';
const task = passkeyPrompt(400, 0.5, '42917');
const messages = [{ role: 'user' as const, content: `${task.document}\n\n${task.question}` }];
const follow = [504, 1345, 1792, 314];
const LAYERS = 30;
const noTrimmedLayers: LayerProfile = { scores: Array.from({ length: LAYERS }, () => 0.5), delta: 0.9, trimmedLayers: [], sink: 4, window: 64 };

/** The same build on the GPU, or with every GPU hidden so it runs on the CPU. */
function environment(onGpu: boolean): NodeJS.ProcessEnv {
  if (!onGpu) return { ...process.env, GGML_VK_VISIBLE_DEVICES: '', CUDA_VISIBLE_DEVICES: '' };
  // lavapipe is a CPU-type Vulkan device: ggml uses it only when named
  return gpu === 'vulkan' ? { GGML_VK_VISIBLE_DEVICES: '0', ...process.env } : { ...process.env };
}

async function start(build: 'stock' | 'patched', onGpu: boolean): Promise<EngineClient> {
  const engine = await EngineClient.start({ build, host: forkEngineHost({ env: environment(onGpu) }), startupTimeoutMs: 180_000 });
  await engine.loadModel({ path: testModelPath(), contextSize: 2048 });
  return engine;
}

/**
 * Every policy in docs/POLICIES.md at a setting that changes the cache, and the GPU-vs-CPU bound it
 * meets: the same argmax at every position, and no logit further than 1.5 (measured on lavapipe,
 * 2026-12-02: 0.71–1.06; `full` itself 0.82).
 */
const LOSSY: Array<{ policy: string; profile?: LayerProfile; tolerance: Partial<LogitsDifference> }> = [
  { policy: 'kv:type=q8_0', tolerance: { top1Agreement: 1, maxAbs: 1.5 } },
  { policy: 'lazy', tolerance: { top1Agreement: 1, maxAbs: 1.5 } },
  { policy: 'lazy:at=4/8/16,keep=0.35/0.2/0.1,revive=on', tolerance: { top1Agreement: 1, maxAbs: 1.5 } },
  { policy: 'simlayerkv:layers=1/2/3/20,window=64', tolerance: { top1Agreement: 1, maxAbs: 1.5 } },
  { policy: 'vatp:budget=0.5,pool=7', tolerance: { top1Agreement: 1, maxAbs: 1.5 } },
  { policy: 'h2o:budget=0.5', tolerance: { top1Agreement: 1, maxAbs: 1.5 } },
  { policy: 'snapkv:budget=0.5', tolerance: { top1Agreement: 1, maxAbs: 1.5 } },
  { policy: 'streaming:budget=0.5', tolerance: { top1Agreement: 1, maxAbs: 1.5 } },
];

describe.skipIf(gpu === 'cpu')(`Sift's policies on the ${gpu} backend`, () => {
  let stockGpu: EngineClient;
  let patchedGpu: EngineClient;
  let patchedCpu: EngineClient;
  let full: LogitsProbeResult;

  beforeAll(async () => {
    stockGpu = await start('stock', true);
    patchedGpu = await start('patched', true);
    patchedCpu = await start('patched', false);
    full = await patchedGpu.probeLogits({ messages, follow });
  });
  afterAll(async () => {
    await stockGpu?.close();
    await patchedGpu?.close();
    await patchedCpu?.close();
  });

  it('runs the model on the GPU device, and the CPU reference without one', () => {
    for (const engine of [stockGpu, patchedGpu]) {
      expect(engine.build.gpu).toMatchObject({ built: gpu, active: gpu });
      expect(engine.build.gpu.devices.length).toBeGreaterThan(0);
    }
    expect(patchedCpu.build.gpu.active).toBeNull();
  });

  it('full: the patched build gives the stock build\'s logits bit for bit on the GPU', async () => {
    const stock = await stockGpu.probeLogits({ messages, follow });
    expect(stock.promptTokens).toEqual(full.promptTokens);
    expect(compareLogits(full, stock)).toMatchObject({ differing: 0, top1Agreement: 1 });
  });

  it.each(['kv:type=f16', 'simlayerkv:layers=1/2/3/20,window=1024'])(
    "%s: the no-op setting gives full's logits bit for bit on the GPU",
    async (policy) => {
      expect(compareLogits(await patchedGpu.probeLogits({ messages, follow, policy }), full).differing).toBe(0);
    },
  );

  // Bit for bit on the CPU (npm test), not on Vulkan: these prefill in another arrangement than
  // `full` (lazy: segments, then decoding over the cache it left; eviction: the budgeted prefill),
  // and Vulkan's kernels round differently for other shapes (not op fusion: GGML_VK_DISABLE_FUSION
  // gives the same figures; not observation: `full` observed is bit for bit). lazy keep=1's
  // prompt logits are bit for bit, its decode steps are not. Measured on lavapipe: max |Δ| 0.19–0.21.
  it.each(['lazy:at=4,keep=1', 'vatp:budget=1.0', 'h2o:budget=2000', 'snapkv:budget=1.0', 'streaming:budget=1.0'])(
    "%s: the no-op setting gives full's argmax everywhere and its logits within 0.25 on the GPU",
    async (policy) => {
      const difference = compareLogits(full, await patchedGpu.probeLogits({ messages, follow, policy }));
      console.log(`[gpu] no-op ${policy} vs full: ${JSON.stringify(difference)}`);
      expect(difference.top1Agreement).toBe(1);
      expect(difference.maxAbs).toBeLessThanOrEqual(0.25);
    },
  );

  it('simlayerkv:delta=1.5: no layer trimmed, full\'s logits bit for bit on the GPU', async () => {
    const probed = await patchedGpu.probeLogits({ messages, follow, policy: 'simlayerkv:delta=1.5', layerProfile: noTrimmedLayers });
    expect(compareLogits(probed, full).differing).toBe(0);
  });

  it.each(LOSSY)('$policy: GPU logits within tolerance of the CPU\'s', async ({ policy, profile, tolerance }) => {
    const onGpu = await patchedGpu.probeLogits({ messages, follow, policy, layerProfile: profile ?? null });
    const onCpu = await patchedCpu.probeLogits({ messages, follow, policy, layerProfile: profile ?? null });
    const difference = compareLogits(onCpu, onGpu);
    console.log(`[gpu] ${policy}: ${JSON.stringify(difference)}`);
    expect(difference.top1Agreement).toBeGreaterThanOrEqual(tolerance.top1Agreement ?? 1);
    expect(difference.maxAbs).toBeLessThanOrEqual(tolerance.maxAbs ?? 0);
  });

  it('full: GPU logits within tolerance of the CPU\'s', async () => {
    const difference = compareLogits(await patchedCpu.probeLogits({ messages, follow }), full);
    console.log(`[gpu] full: ${JSON.stringify(difference)}`);
    expect(difference.top1Agreement).toBe(1);
    expect(difference.maxAbs).toBeLessThanOrEqual(1.5);
  });
});
