// Model-load settings on the real engine (SmolLM2): a change loads the model again with it, a turn
// runs in the context it sets (KV allocated exactly as the settings panel predicts), a bad value is
// refused in the panel's words, and the settings survive a restart of the back end.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackend, type Backend } from '../../src-main/app/backend.js';
import type { ModelState } from '../../src-common/contract.js';
import { loadSettingProblem } from '../../src-common/modelLoadSettings.js';
import { contextKvBytes } from '../../src-common/policy/contextPlan.js';
import { testModelPath } from '../helpers/testModel.js';

describe('model-load settings with the real engine', () => {
  let dataDir: string;
  let backend: Backend;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-load-settings-'));
    backend = createBackend({ dataDir, shell: 'serve', version: 'test' });
    await backend.models.load(testModelPath());
  });

  afterAll(async () => {
    await backend?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses a context size below the minimum in the words the panel shows, and changes nothing', async () => {
    const before = backend.models.state();
    const result = await backend.dispatch('models.setLoadSettings', { settings: { contextSize: 100 } });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('INVALID_REQUEST');
    expect(result.error.message).toContain(loadSettingProblem('contextSize', '100'));
    expect(backend.models.state().loadSettings).toEqual(before.loadSettings);
    expect(backend.models.state().current?.contextSize).toBe(before.current?.contextSize);
  });

  it('loads the model again with the new settings, and a turn runs in the context they set', async () => {
    const result = await backend.dispatch('models.setLoadSettings', { settings: { contextSize: 1024, threads: 1, flashAttention: true } });
    expect(result.ok).toBe(true);
    const state = (result as { value: ModelState }).value;
    expect(state.loadSettings).toEqual({ contextSize: 1024, threads: 1, gpuLayers: 'auto', flashAttention: true });
    expect(state.current).toMatchObject({ contextSize: 1024, threads: 1, flashAttention: true });

    const session = backend.sessions.create();
    backend.sessions.updateSettings(session.id, { temperature: 0, maxTokens: 4, policy: 'full' });
    const started = await backend.sessions.send(session.id, 'What is the capital of France?');
    await backend.sessions.whenIdle();
    const answer = backend.store.messages.require(started.assistantMessage.id);
    expect(answer.status).toBe('complete');
    expect(answer.metrics?.contextSize).toBe(1024);
    // the settings panel's prediction for a full cache of this context, against the backend's allocation
    const model = state.current!;
    const predicted = contextKvBytes({ kvType: 'f16', flashAttention: true, contextSize: 1024, batchSize: 512, trimmedLayers: [], sink: 0, window: 0, swaFull: false }, model);
    expect(answer.metrics?.kvBytesAllocated).toBe(predicted);
  });

  it("caps a context longer than the model's trained one at load", async () => {
    const state = await backend.models.setLoadSettings({ contextSize: 1_000_000 });
    expect(state.loadSettings.contextSize).toBe(1_000_000);
    expect(state.current?.contextSize).toBe(state.current?.trainContextSize);
  });

  it('keeps the settings across a restart of the back end', async () => {
    await backend.models.setLoadSettings({ contextSize: 512 });
    await backend.close();
    backend = createBackend({ dataDir, shell: 'serve', version: 'test', contextSize: 2048 });
    // a stored number wins over the command line's context size, which stands in for auto only
    expect(backend.models.state().loadSettings).toMatchObject({ contextSize: 512, threads: 1, flashAttention: true });
    await backend.models.load(testModelPath());
    expect(backend.models.state().current).toMatchObject({ contextSize: 512, threads: 1, flashAttention: true });
    const state = await backend.models.setLoadSettings({ contextSize: 'auto' });
    expect(state.current?.contextSize).toBe(2048);
  });
});
