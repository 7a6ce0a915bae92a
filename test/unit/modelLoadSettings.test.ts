// Model-load settings: the checks the panel, the API and `sift ask` share, what the engine is
// asked to load with, the stored settings, and the model manager putting the previous settings
// back when the model will not load with new ones.
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_MODEL_LOAD_SETTINGS,
  effectiveContextSize,
  loadOptionsFrom,
  loadSettingProblem,
  parseLoadSetting,
} from '../../src-common/modelLoadSettings.js';
import { requestSchemas } from '../../src-common/schemas.js';
import { parseAskArgs } from '../../src-main/cli/ask.js';
import { UsageError } from '../../src-main/cli/usageError.js';
import { ModelLoadSettingsStore } from '../../src-main/models/modelLoadSettingsStore.js';
import { ModelManager } from '../../src-main/models/modelManager.js';
import { KnownModels } from '../../src-main/models/knownModels.js';
import { WorkerListStore } from '../../src-main/models/workerListStore.js';
import type { EngineSupervisor } from '../../src-main/models/engineSupervisor.js';
import { ModelError } from '../../src-main/models/modelError.js';
import type { ModelLoadOptions } from '../../src-common/modelLoadSettings.js';
import type { ModelInfo } from '../../src-common/engineTypes.js';
import { openStore } from '../../src-main/store/index.js';
import { createTempDirTracker } from '../fixtures/store/tempDirs.js';

const dirs = createTempDirTracker('sift-load-settings-');
afterEach(() => dirs.removeAll());

describe('a load setting as typed', () => {
  it.each([
    ['contextSize', '', 'auto'],
    ['contextSize', ' Auto ', 'auto'],
    ['contextSize', '4096', 4096],
    ['threads', '1', 1],
    ['gpuLayers', '0', 0],
  ] as const)('%s %j reads as %j', (field, raw, expected) => {
    expect(loadSettingProblem(field, raw)).toBeNull();
    expect(parseLoadSetting(raw)).toBe(expected);
  });

  it.each([
    ['contextSize', '100', 'Context size is auto or a whole number from 256 to 1,048,576.'],
    ['contextSize', '2k', 'Context size is auto or a whole number, not "2k".'],
    ['threads', '0', 'Threads is auto or a whole number from 1 to 512.'],
    ['threads', '1.5', 'Threads is auto or a whole number, not "1.5".'],
    ['gpuLayers', '-1', 'GPU layers is auto or a whole number from 0 to 1,000.'],
  ] as const)('%s %j is refused with the reason', (field, raw, reason) => {
    expect(loadSettingProblem(field, raw)).toBe(reason);
  });

  it('the API refuses what the panel refuses, with the same words, and takes auto', () => {
    const schema = requestSchemas['models.setLoadSettings'];
    expect(schema.safeParse({ settings: { contextSize: 'auto', threads: 2, gpuLayers: 0, flashAttention: true } }).success).toBe(true);
    const refused = schema.safeParse({ settings: { threads: 0 } });
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]?.message).toBe(loadSettingProblem('threads', '0'));
    expect(schema.safeParse({ settings: { threads: 'all' } }).success).toBe(false);
    expect(schema.safeParse({ settings: { batchSize: 64 } }).success).toBe(false);
  });
});

describe('what the engine is asked to load with', () => {
  it('leaves auto to the engine, and passes numbers and flash attention', () => {
    expect(loadOptionsFrom(DEFAULT_MODEL_LOAD_SETTINGS)).toEqual({ gpuLayers: 'auto', flashAttention: false });
    expect(loadOptionsFrom({ contextSize: 2048, threads: 4, gpuLayers: 10, flashAttention: true })).toEqual({ contextSize: 2048, threads: 4, gpuLayers: 10, flashAttention: true });
  });

  it("opens the model's trained context at most, and 16k at most under auto", () => {
    expect(effectiveContextSize('auto', 8192)).toBe(8192);
    expect(effectiveContextSize('auto', 131_072)).toBe(16_384);
    expect(effectiveContextSize(32_768, 131_072)).toBe(32_768);
    expect(effectiveContextSize(32_768, 8192)).toBe(8192);
  });

  it('stores the settings; a context size from the command line stands in for auto only', () => {
    const store = openStore({ dataDir: dirs.make() });
    const settings = new ModelLoadSettingsStore(store.settings, 2048);
    expect(settings.get()).toEqual(DEFAULT_MODEL_LOAD_SETTINGS);
    expect(settings.loadOptions().contextSize).toBe(2048);
    settings.update({ contextSize: 1024, threads: 2 });
    expect(settings.get()).toEqual({ ...DEFAULT_MODEL_LOAD_SETTINGS, contextSize: 1024, threads: 2 });
    expect(settings.loadOptions()).toMatchObject({ contextSize: 1024, threads: 2 });
    // a value another version wrote that no longer fits reads as the defaults
    store.settings.set('models.loadSettings', { contextSize: 3, threads: 'many' });
    expect(settings.get()).toEqual(DEFAULT_MODEL_LOAD_SETTINGS);
    store.close();
  });

  it('sift ask takes the load flags, checked as the panel checks them', () => {
    const load = parseAskArgs(['--model', 'm.gguf', '--context', '1024', '--threads', '2', '--gpu-layers', 'auto', '--flash-attention', 'on', 'q']).load;
    expect(load).toEqual({ contextSize: 1024, threads: 2, gpuLayers: 'auto', flashAttention: true });
    expect(parseAskArgs(['--model', 'm.gguf', 'q']).load).toEqual({});
    expect(() => parseAskArgs(['--model', 'm.gguf', '--threads', '0', 'q'])).toThrow(new UsageError(`--threads: ${loadSettingProblem('threads', '0')}`));
    expect(() => parseAskArgs(['--model', 'm.gguf', '--flash-attention', 'yes', 'q'])).toThrow(/--flash-attention takes on or off/);
  });
});

/** A supervisor whose model loads unless the options say otherwise: what the manager does around a load. */
function fakeSupervisor(settings: ModelLoadSettingsStore, refuse: (options: ModelLoadOptions) => Error | null) {
  const loads: ModelLoadOptions[] = [];
  const supervisor = {
    status: 'ready',
    model: { path: '/models/m.gguf', contextSize: 8192 } as ModelInfo,
    build: null,
    notice: null,
    error: null as string | null,
    async load(modelPath: string) {
      const options = settings.loadOptions();
      loads.push(options);
      const error = refuse(options);
      if (error) {
        supervisor.model = null as unknown as ModelInfo;
        throw error;
      }
      supervisor.model = { path: modelPath, contextSize: options.contextSize ?? 8192 } as ModelInfo;
      return supervisor.model;
    },
  };
  return { supervisor: supervisor as unknown as EngineSupervisor, loads };
}

describe('the model manager changing how the model loads', () => {
  const manager = (refuse: (options: ModelLoadOptions) => Error | null) => {
    const store = openStore({ dataDir: dirs.make() });
    const loadSettings = new ModelLoadSettingsStore(store.settings);
    const { supervisor, loads } = fakeSupervisor(loadSettings, refuse);
    const models = new ModelManager({
      supervisor,
      known: new KnownModels(store.settings),
      loadSettings,
      workers: new WorkerListStore(store.settings),
      downloadDir: dirs.make(), emitState: () => {}, emitDownload: () => {} });
    return { models, loads, store, supervisor };
  };

  it('loads the model again with the new settings', async () => {
    const { models, loads, store } = manager(() => null);
    const state = await models.setLoadSettings({ contextSize: 4096 });
    expect(loads).toEqual([{ contextSize: 4096, gpuLayers: 'auto', flashAttention: false }]);
    expect(state.loadSettings.contextSize).toBe(4096);
    expect(state.current?.contextSize).toBe(4096);
    store.close();
  });

  it('puts the previous settings back, loads with them, and says so when the model will not load', async () => {
    const { models, loads, store, supervisor } = manager((options) => (options.gpuLayers === 99 ? new Error('not enough VRAM for 99 layers') : null));
    const change = models.setLoadSettings({ gpuLayers: 99 });
    await expect(change).rejects.toThrow(new ModelError('LOAD_SETTINGS', 'The model did not load with these settings (not enough VRAM for 99 layers); the previous settings are back.'));
    expect(loads.map((l) => l.gpuLayers)).toEqual([99, 'auto']);
    expect(models.state().loadSettings).toEqual(DEFAULT_MODEL_LOAD_SETTINGS);
    expect(supervisor.model?.path).toBe('/models/m.gguf');
    store.close();
  });

  it('refuses while an answer is written, keeping the settings it had', async () => {
    const { EngineError } = await import('../../src-engine/engineError.js');
    const { models, store } = manager(() => new EngineError('BUSY', 'busy'));
    await expect(models.setLoadSettings({ threads: 1 })).rejects.toThrow(/An answer is being written/);
    expect(models.state().loadSettings).toEqual(DEFAULT_MODEL_LOAD_SETTINGS);
    store.close();
  });

  it('only stores the settings when no model is loaded', async () => {
    const { models, loads, store, supervisor } = manager(() => null);
    (supervisor as { model: ModelInfo | null }).model = null;
    const state = await models.setLoadSettings({ flashAttention: true });
    expect(loads).toEqual([]);
    expect(state.loadSettings.flashAttention).toBe(true);
    store.close();
  });
});
