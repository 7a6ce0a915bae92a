// Issue 15: the app calibrates a loaded model by itself, once, when nothing tells auto how its
// lossy policies do: after a quiet time, not while an answer is written, never again for a model
// whose automatic calibration was cancelled or failed, and not at all when the person turned it
// off. The scheduler against a real settings store; the calibration itself is faked here (its
// real run is in test/e2e/calibration.test.ts and test/integration/calibrate.test.ts).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CalibrationState } from '../../src-common/contract.js';
import type { ModelFrontier } from '../../src-common/policy/frontier.js';
import { AutoCalibration, type Placement } from '../../src-main/models/autoCalibration.js';
import { AutoCalibrationStore } from '../../src-main/models/autoCalibrationStore.js';
import { idleGated, whileBusy } from '../../src-main/models/idleGate.js';
import type { CalibrationEngine } from '../../src-main/models/layerCalibration.js';
import { openStore } from '../../src-main/store/index.js';
import { createTempDirTracker } from '../fixtures/store/tempDirs.js';

const dirs = createTempDirTracker('sift-auto-calibration-');
const DELAY = 1000;
const hashOf = (modelPath: string) => (modelPath.endsWith('a.gguf') ? 'a'.repeat(64) : 'b'.repeat(64));
const someFrontiers = [{ questions: 1 } as ModelFrontier];

function running(modelPath: string, automatic: boolean, status: CalibrationState['status'] = 'running'): CalibrationState {
  return { modelPath, status, automatic, paused: false, phase: 'frontier', phases: 1, done: 0, total: 0, line: '', error: null, startedAt: 0, finishedAt: null };
}

function setup(options: { frontierFor?: string[]; busy?: () => boolean; placement?: Placement } = {}) {
  const store = openStore({ dataDir: dirs.make() });
  const settings = new AutoCalibrationStore(store.settings);
  const started: Array<{ path: string; automatic: boolean }> = [];
  let state: CalibrationState | null = null;
  const calibrator = {
    state: () => state,
    start(modelPath: string, how: { automatic: boolean }) {
      started.push({ path: modelPath, automatic: how.automatic });
      state = running(modelPath, how.automatic);
      return state;
    },
  };
  const auto = new AutoCalibration({
    store: settings,
    calibrator,
    frontiers: { forModel: (p) => ((options.frontierFor ?? []).includes(p) ? someFrontiers : []) },
    hash: async (p) => hashOf(p),
    chatBusy: options.busy ?? (() => false),
    placement: () => options.placement ?? { offloadedLayers: 0, freeRamBytes: 8 * 1024 ** 3 },
    delayMs: DELAY,
  });
  return { store, settings, auto, started, finish: (status: CalibrationState['status']) => (state = state && { ...state, status }) };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  dirs.removeAll();
});

describe('automatic calibration', () => {
  it('starts once for a newly loaded model with no frontier, after the quiet time', async () => {
    const { auto, started } = setup();
    auto.engineChanged(true, '/m/a.gguf');
    await vi.advanceTimersByTimeAsync(DELAY - 10);
    expect(started).toEqual([]);
    await vi.advanceTimersByTimeAsync(20);
    expect(started).toEqual([{ path: '/m/a.gguf', automatic: true }]);
    // publishing the same ready model again is not a new load
    auto.engineChanged(true, '/m/a.gguf');
    await vi.advanceTimersByTimeAsync(5 * DELAY);
    expect(started).toHaveLength(1);
  });

  it('leaves a model with a frontier alone, and does nothing when the setting is off', async () => {
    const calibrated = setup({ frontierFor: ['/m/a.gguf'] });
    calibrated.auto.engineChanged(true, '/m/a.gguf');
    await vi.advanceTimersByTimeAsync(2 * DELAY);
    expect(calibrated.started).toEqual([]);

    const off = setup();
    off.settings.setEnabled(false);
    off.auto.engineChanged(true, '/m/a.gguf');
    await vi.advanceTimersByTimeAsync(2 * DELAY);
    expect(off.started).toEqual([]);
    // turned on again: the loaded model is considered after the quiet time
    off.settings.setEnabled(true);
    off.auto.enabledChanged(true);
    await vi.advanceTimersByTimeAsync(DELAY + 10);
    expect(off.started).toEqual([{ path: '/m/a.gguf', automatic: true }]);
  });

  it('waits while an answer is written', async () => {
    let busy = true;
    const { auto, started } = setup({ busy: () => busy });
    auto.engineChanged(true, '/m/a.gguf');
    await vi.advanceTimersByTimeAsync(3 * DELAY + 10);
    expect(started).toEqual([]);
    busy = false;
    await vi.advanceTimersByTimeAsync(DELAY + 10);
    expect(started).toHaveLength(1);
  });

  it('considers only the model loaded when the quiet time ends', async () => {
    const { auto, started } = setup();
    auto.engineChanged(true, '/m/a.gguf');
    await vi.advanceTimersByTimeAsync(DELAY / 2);
    auto.engineChanged(false, null);
    auto.engineChanged(true, '/m/b.gguf');
    await vi.advanceTimersByTimeAsync(DELAY + 10);
    expect(started).toEqual([{ path: '/m/b.gguf', automatic: true }]);
  });

  it('never starts again by itself for a model whose automatic run was cancelled or failed, until the setting is turned on again', async () => {
    const { store, auto, started, settings, finish } = setup();
    auto.engineChanged(true, '/m/a.gguf');
    await vi.advanceTimersByTimeAsync(DELAY + 10);
    expect(started).toHaveLength(1);
    await auto.calibrationChanged(finish('cancelled')!);
    // a failed manual run is the person's own: it declines nothing
    await auto.calibrationChanged(running('/m/b.gguf', false, 'failed'));
    expect(settings.declined(hashOf('/m/a.gguf'))).toBe(true);
    expect(settings.declined(hashOf('/m/b.gguf'))).toBe(false);
    // kept across launches
    expect(new AutoCalibrationStore(store.settings).declined(hashOf('/m/a.gguf'))).toBe(true);

    auto.engineChanged(false, null);
    auto.engineChanged(true, '/m/a.gguf');
    await vi.advanceTimersByTimeAsync(2 * DELAY);
    expect(started).toHaveLength(1);
    expect(auto.note()).toMatch(/^Not calibrated by itself: its last automatic calibration was cancelled or failed\. Calibrate it with the button/);
    // another model is still calibrated by itself
    auto.engineChanged(true, '/m/b.gguf');
    await vi.advanceTimersByTimeAsync(DELAY + 10);
    expect(started.map((s) => s.path)).toEqual(['/m/a.gguf', '/m/b.gguf']);

    settings.setEnabled(true);
    expect(settings.declined(hashOf('/m/a.gguf'))).toBe(false);
  });
});

describe('the app quitting', () => {
  it('does not count a run the app cancelled on its way out as declined', async () => {
    const { auto, started, settings, finish } = setup();
    auto.engineChanged(true, '/m/a.gguf');
    await vi.advanceTimersByTimeAsync(DELAY + 10);
    expect(started).toHaveLength(1);
    auto.close();
    await auto.calibrationChanged(finish('cancelled')!);
    expect(settings.declined(hashOf('/m/a.gguf'))).toBe(false);
  });
});

describe('where a second engine would compete for the chat\'s memory', () => {
  it('does not start with layers on a GPU, and says why', async () => {
    const { auto, started } = setup({ placement: { offloadedLayers: 31, freeRamBytes: 64 * 1024 ** 3 } });
    auto.engineChanged(true, '/m/a.gguf');
    await vi.advanceTimersByTimeAsync(DELAY + 10);
    expect(started).toEqual([]);
    expect(auto.note()).toMatch(/31 of its layers run on the GPU, and calibrating loads a second copy of them/);
  });

  it('does not start with little free RAM, and says why', async () => {
    const { auto, started } = setup({ placement: { offloadedLayers: 0, freeRamBytes: 600 * 1024 ** 2 } });
    auto.engineChanged(true, '/m/a.gguf');
    await vi.advanceTimersByTimeAsync(DELAY + 10);
    expect(started).toEqual([]);
    expect(auto.note()).toMatch(/only 600\.0 MiB of RAM is free/);
    // another model loaded: the note was about the last one
    auto.engineChanged(true, '/m/b.gguf');
    expect(auto.note()).toBeNull();
  });
});

describe('a calibration engine gated on the chat', () => {
  it('starts no turn or probe while the chat writes an answer, and each once it ends', async () => {
    const calls: string[] = [];
    const inner = {
      runTurn: () => {
        calls.push('turn');
        return { turnId: 1, result: Promise.resolve({ answer: 'x' }) };
      },
      probeLogits: async () => {
        calls.push('probe');
        return { promptTokens: [], logits: [] };
      },
      probeAttention: async () => {
        calls.push('attention');
        return { promptTokens: 0, layers: [], positions: [] };
      },
    } as unknown as CalibrationEngine;
    let busy = true;
    const gated = idleGated(inner, () => whileBusy(() => busy, () => false, 50));
    const turn = gated.runTurn({} as never, () => {}).result;
    const probe = gated.probeLogits({} as never);
    const attention = gated.probeAttention({} as never);
    await vi.advanceTimersByTimeAsync(500);
    expect(calls).toEqual([]);
    busy = false;
    await vi.advanceTimersByTimeAsync(60);
    await Promise.all([turn, probe, attention]);
    expect(calls.sort()).toEqual(['attention', 'probe', 'turn']);
  });
});
