import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isAbortReport, loadLlama } from '../../src-engine/loadLlama.js';
import type { NativeBuildRecord } from '../../src-engine/nativeBuilds.js';

// A build whose addon cannot load (here: an empty file, as a missing GPU runtime leaves dlopen
// failing) must say which engine, which backend and what to do, before any model is touched.
describe('loading a native build that cannot load here', () => {
  const saved = process.env['SIFT_NATIVE_DIR'];
  let dir = '';
  afterEach(() => {
    if (saved === undefined) delete process.env['SIFT_NATIVE_DIR'];
    else process.env['SIFT_NATIVE_DIR'] = saved;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function fakeBuild(gpu: NativeBuildRecord['gpu']): void {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sift-native-'));
    const release = path.join(dir, 'stock', 'build', 'Release');
    mkdirSync(release, { recursive: true });
    const addonPath = path.join(release, 'llama-addon.node');
    writeFileSync(addonPath, '');
    const record: NativeBuildRecord = {
      kind: 'stock',
      key: '0'.repeat(64),
      addonPath,
      nodeLlamaCppVersion: '3.22.1',
      llamaCppCommit: 'de3ff815ea7d559ee917f063901b8986f038abc6',
      patches: [],
      cmakeOptions: {},
      cpu: 'variants',
      ...(gpu ? { gpu } : {}),
      builtAt: new Date(0).toISOString(),
      buildSeconds: 0,
    };
    writeFileSync(path.join(dir, 'stock', 'build.json'), JSON.stringify(record));
    process.env['SIFT_NATIVE_DIR'] = dir;
  }

  it('names the GPU backend and the way out', async () => {
    fakeBuild('cuda');
    await expect(loadLlama('stock')).rejects.toThrow(
      /the stock engine \(built with CUDA\) cannot load on this machine: .+; install the CUDA runtime and driver this build links .+--gpu cpu --force/,
    );
  });

  it('asks for a rebuild when a CPU build cannot load', async () => {
    fakeBuild('cpu');
    await expect(loadLlama('stock')).rejects.toThrow(/the stock engine \(built with CPU\) cannot load on this machine: .+; rebuild it with `npm run setup`/);
  });
});

// Stop ends a lazy prefill inside its graph; llama.cpp logs that as an error, which it is not.
describe("llama.cpp's log of a stopped graph", () => {
  it('is recognised as the abort Stop asked for, and only that', () => {
    expect(isAbortReport('graph_compute: ggml_backend_sched_graph_compute_async failed with error 1')).toBe(true);
    expect(isAbortReport('process_ubatch: failed to compute graph, compute status: 1\n')).toBe(true);
    expect(isAbortReport('graph_compute: ggml_backend_sched_graph_compute_async failed with error -1')).toBe(false);
    expect(isAbortReport('process_ubatch: failed to compute graph, compute status: -2')).toBe(false);
    expect(isAbortReport('decode: failed to find a memory slot for batch of size 512')).toBe(false);
  });
});
