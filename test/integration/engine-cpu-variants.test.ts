// A CPU variant that dies of SIGILL (as ggml's AMX kernel does on some Intel Xeon VMs, issue 17)
// is switched off by the app, which says so, and Reload runs the next best variant: never a crash
// loop. The signal is sent to the real engine process mid-answer. The test starts from what this
// machine switched off already (an AMX Xeon's sapphirerapids code really dies of SIGILL), so the
// variant it kills is one that runs here.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppEvent } from '../../src-common/contract.js';
import { createBackend, type Backend } from '../../src-main/app/backend.js';
import { cpuVariantStatePath, readDisabledCpuVariants } from '../../src-engine/cpuVariants.js';
import { readBuildRecord } from '../../src-engine/nativeBuilds.js';
import { testModelPath } from '../helpers/testModel.js';

const variantsBuild = readBuildRecord('patched')?.cpu === 'variants';

describe.skipIf(!variantsBuild)('CPU variants in the app', () => {
  let dataDir: string;
  let backend: Backend;
  const events: AppEvent[] = [];
  const stateFile = () => path.join(dataDir, 'cpu-variants.json');
  // read before the variable below points the engine at this test's own file
  const offHere = readDisabledCpuVariants(cpuVariantStatePath()).map((d) => d.variant);

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-variants-'));
    if (fs.existsSync(cpuVariantStatePath())) fs.copyFileSync(cpuVariantStatePath(), stateFile());
    // the engine process inherits it; this process writes it when the engine dies
    process.env['SIFT_CPU_VARIANTS_FILE'] = stateFile();
    backend = createBackend({ dataDir, shell: 'serve', version: 'test', contextSize: 2048 });
    backend.events.subscribe((event) => events.push(event));
    await backend.models.load(testModelPath());
  });

  afterAll(async () => {
    await backend?.close();
    delete process.env['SIFT_CPU_VARIANTS_FILE'];
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('says which variant runs, switches it off after a SIGILL, and reloads on the next best one', async () => {
    const before = backend.models.state().build?.cpu;
    expect(before?.build).toBe('variants');
    expect(before?.variant).toMatch(/^[a-z0-9_.]+$/);
    expect(before?.disabledVariants).toEqual(offHere);

    const session = backend.sessions.create();
    backend.sessions.updateSettings(session.id, { temperature: 0, maxTokens: 400 });
    const started = await backend.sessions.send(session.id, 'Write a very long story about the sea.');
    while (!events.some((e) => e.type === 'turn.token' && e.messageId === started.assistantMessage.id)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    process.kill(backend.supervisor.enginePid!, 'SIGILL');
    await backend.sessions.whenIdle();

    const answer = backend.store.messages.require(started.assistantMessage.id);
    expect(answer.status).toBe('error');
    expect(answer.content.length).toBeGreaterThan(0); // the partial answer is kept
    const advice = `Its ${before!.variant} CPU code uses an instruction this processor does not run, so Sift has switched that variant off`;
    expect(answer.error).toContain(advice);
    expect(backend.models.state()).toMatchObject({ engine: 'crashed' });
    expect(backend.models.state().error).toContain(advice);
    expect(readDisabledCpuVariants(stateFile()).map((d) => d.variant)).toEqual([...offHere, before!.variant]);

    const reloaded = await backend.models.reload();
    expect(reloaded.engine).toBe('ready');
    expect(reloaded.build?.cpu.variant).not.toBe(before!.variant);
    expect(reloaded.build?.cpu.disabledVariants).toEqual([...offHere, before!.variant]);
    backend.sessions.updateSettings(session.id, { maxTokens: 8 });
    const retry = await backend.sessions.regenerate(session.id);
    await backend.sessions.whenIdle();
    expect(backend.store.messages.require(retry.assistantMessage.id).status).toBe('complete');
  });

  it('a SIGILL at the first decode, while loading, switches the variant off and loads on the next best one', async () => {
    const before = backend.models.state().build?.cpu;
    const signalFile = path.join(dataDir, 'first-decode-signal');
    fs.writeFileSync(signalFile, 'SIGILL');
    process.env['SIFT_TEST_FIRST_DECODE_SIGNAL_FILE'] = signalFile;
    try {
      // a fresh engine process inherits the variable: the first decode of its load dies
      await backend.supervisor.close();
      const state = await backend.models.load(testModelPath());
      expect(state.engine).toBe('ready');
      expect(state.current?.path).toBe(testModelPath());
      expect(state.build?.cpu.variant).not.toBe(before!.variant);
      expect(state.notice).toContain(`The ${before!.variant} CPU code ran an instruction this processor does not run`);
      expect(state.notice).toContain(`so Sift switched it off and runs ${state.build!.cpu.variant}`);
      expect(fs.existsSync(signalFile)).toBe(false);
    } finally {
      delete process.env['SIFT_TEST_FIRST_DECODE_SIGNAL_FILE'];
    }
  });
});
