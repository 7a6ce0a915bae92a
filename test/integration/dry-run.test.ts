// llama.cpp's dry run (engine.dryRun: the model loaded with no_alloc, a context of the plan's shape
// created on it) against Sift's formula from the model's shape, on every architecture the tests
// have a model of: SmolLM2 (llama) and the synthetic qwen2, qwen3, phi3, gemma2 and gemma3 graphs.
// The dry run against the backend's real allocation is in press-cost.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import type { DryRunContext } from '../../src-common/engineTypes.js';
import { writeSyntheticModel, type SyntheticArchitecture } from '../helpers/syntheticModel.js';
import { testModelPath } from '../helpers/testModel.js';

const ARCHITECTURES: SyntheticArchitecture[] = ['qwen2', 'qwen3', 'phi3', 'gemma2', 'gemma3'];
const sum = (context: DryRunContext, key: 'kvBytes' | 'computeBytes' | 'modelBytes') => context.measured.reduce((s, m) => s + m[key], 0);
const off = (formula: number, measured: number) => Math.abs(formula - measured) / measured;

describe('the dry run against the formula, on every test architecture', () => {
  let folder: string;
  let engine: EngineClient;

  beforeAll(async () => {
    folder = mkdtempSync(path.join(os.tmpdir(), 'sift-dry-'));
    engine = await EngineClient.start({ build: 'patched' });
  });
  afterAll(async () => {
    await engine?.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it.each(['llama', ...ARCHITECTURES])('%s: KV exact and compute within 5%, for full, q8_0 and an evictor', async (arch) => {
    let modelPath = testModelPath();
    if (arch !== 'llama') {
      modelPath = path.join(folder, `${arch}.gguf`);
      await writeSyntheticModel(modelPath, arch as SyntheticArchitecture, testModelPath());
    }
    const info = await engine.loadModel({ path: modelPath, contextSize: 2048 });
    for (const policy of ['full', 'kv:type=q8_0', 'vatp:budget=512,pool=7']) {
      const dry = await engine.dryRun(policy, 1024);
      for (const context of dry.contexts) {
        const kv = sum(context, 'kvBytes');
        const compute = sum(context, 'computeBytes');
        expect(kv, `${arch} ${policy} KV`).toBeGreaterThan(0);
        // KV to the byte, sliding-window layers included (the issue asks 5%)
        expect(context.formula.kvBytes, `${arch} ${policy} KV`).toBe(kv);
        expect(off(context.formula.computeBytes, compute), `${arch} ${policy} compute: formula ${context.formula.computeBytes}, llama.cpp ${compute}`).toBeLessThanOrEqual(0.05);
        // the weights as the file holds them
        expect(sum(context, 'modelBytes')).toBeLessThanOrEqual(info.sizeBytes);
        expect(sum(context, 'modelBytes')).toBeGreaterThan(info.sizeBytes * 0.9);
      }
    }
  }, 120_000);
});
