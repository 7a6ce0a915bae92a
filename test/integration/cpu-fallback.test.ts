// An installer carries a GPU build and its CPU twin (build-native --cpu-fallback). On a machine
// without the GPU's runtime the GPU build's addon does not load (here: an empty file, as a missing
// libcudart leaves dlopen failing); the engine then runs the CPU twin and says why, instead of not
// starting. The twin here is this machine's real stock build, so a real model answers on it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import { cpuFallbackDir, readBuildRecord, type NativeBuildRecord } from '../../src-engine/nativeBuilds.js';
import { testModelPath } from '../helpers/testModel.js';

describe('a GPU build that cannot load here, with its CPU twin installed', () => {
  const saved = process.env['SIFT_NATIVE_DIR'];
  let dir = '';
  let engine: EngineClient | null = null;
  afterEach(async () => {
    await engine?.close();
    engine = null;
    if (saved === undefined) delete process.env['SIFT_NATIVE_DIR'];
    else process.env['SIFT_NATIVE_DIR'] = saved;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A CUDA stock build whose addon is an empty file; with `twin`, the real stock build as its CPU fallback. */
  function install(twin: boolean): void {
    const real = readBuildRecord('stock');
    if (!real) throw new Error('the stock build is needed: npm run setup');
    dir = mkdtempSync(path.join(os.tmpdir(), 'sift-fallback-'));
    const release = path.join(dir, 'stock', 'build', 'Release');
    mkdirSync(release, { recursive: true });
    const addonPath = path.join(release, 'llama-addon.node');
    writeFileSync(addonPath, '');
    const gpuRecord: NativeBuildRecord = { ...real, key: '1'.repeat(64), addonPath, gpu: 'cuda' };
    writeFileSync(path.join(dir, 'stock', 'build.json'), JSON.stringify(gpuRecord));
    if (twin) {
      const twinDir = path.join(cpuFallbackDir(dir), 'stock');
      mkdirSync(twinDir, { recursive: true });
      writeFileSync(path.join(twinDir, 'build.json'), JSON.stringify({ ...real, gpu: 'cpu' }));
    }
    process.env['SIFT_NATIVE_DIR'] = dir;
  }

  it('runs the CPU twin, says why, and answers', async () => {
    install(true);
    engine = await EngineClient.start({ build: 'stock' });
    expect(engine.notice).toMatch(/^The stock engine built with CUDA cannot load on this machine \(.+\), so Sift runs its CPU build: everything runs on the CPU\. To use the GPU, install the CUDA runtime and driver/);
    expect(engine.build.gpu.built).toBe('cpu');
    expect(engine.build.addonPath).toBe(readBuildRecord('stock', cpuFallbackDir(dir))!.addonPath);
    await engine.loadModel({ path: testModelPath(), contextSize: 512 });
    const { answer } = await engine.runTurn({ messages: [{ role: 'user', content: 'Name a color.' }], sampling: { temperature: 0, topP: 1, maxTokens: 4 }, policy: 'full' }, () => {}).result;
    expect(answer.length).toBeGreaterThan(0);
  });

  it('without a twin, stops with which backend and what to do', async () => {
    install(false);
    await expect(EngineClient.start({ build: 'stock' })).rejects.toThrow(/the stock engine \(built with CUDA\) cannot load on this machine: .+; install the CUDA runtime/);
  });
});
