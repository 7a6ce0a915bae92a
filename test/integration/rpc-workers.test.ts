// Sift's engine across processes through llama.cpp's RPC backend, on loopback: two `sift worker`
// processes and the engine split SmolLM2's layers three ways. The policies run unchanged when
// layers live on a worker (the same logits as one process), each device's bytes are reported, and
// a worker killed mid-turn ends the turn with a clear error, keeps the partial answer, and the
// next turn runs without it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import type { LogitsProbeResult } from '../../src-engine/forcedLogits.js';
import { parseWorkerAddress } from '../../src-common/workerAddress.js';
import { createBackend, type Backend } from '../../src-main/app/backend.js';
import type { AppEvent } from '../../src-common/contract.js';
import { passkeyPrompt } from '../helpers/passkey.js';
import { testModelPath } from '../helpers/testModel.js';
import { differingLogits } from '../helpers/logits.js';
import { startWorker, stopWorker, type RunningWorker } from '../helpers/siftWorker.js';

const task = passkeyPrompt(400, 0.5, '42917');
const messages = [{ role: 'user' as const, content: `${task.document}\n\n${task.question}` }];
const follow = [504, 1345, 1792, 314];
// full; the default lazy prefill (pruning from layer 8 on a ~470-token prompt); SimLayerKV's small
// layers (4 of them keeping 4 sinks and a 64-token window); VATP evicting to 256 cells, ranked by
// observed attention
const POLICIES = ['full', 'lazy', 'simlayerkv:layers=1/2/3/20,window=64', 'vatp:budget=256'];
/** Of SmolLM2's 31 (30 blocks and the output layer): 20 on the two workers, 11 here. */
const OFFLOADED = 20;

async function probeAll(engine: EngineClient): Promise<Map<string, LogitsProbeResult>> {
  const results = new Map<string, LogitsProbeResult>();
  for (const policy of POLICIES) results.set(policy, await engine.probeLogits({ messages, follow, policy }));
  return results;
}

describe('layers split across two sift workers on loopback', () => {
  const workers: RunningWorker[] = [];
  let single: Map<string, LogitsProbeResult>;
  let engine: EngineClient;

  beforeAll(async () => {
    workers.push(await startWorker(), await startWorker());
    const alone = await EngineClient.start({ build: 'patched' });
    await alone.loadModel({ path: testModelPath(), contextSize: 1024 });
    single = await probeAll(alone);
    await alone.close();
    engine = await EngineClient.start({ build: 'patched' });
  }, 240_000);
  afterAll(async () => {
    await engine?.close();
    for (const worker of workers) await stopWorker(worker);
  });

  it('adds each worker as a device, with the memory it reports', async () => {
    const added = await engine.addWorkers(workers.map((w) => parseWorkerAddress(w.address)));
    expect(added.skipped).toEqual([]);
    expect(added.devices.map((d) => d.endpoint)).toEqual(workers.map((w) => w.address));
    expect(added.devices.map((d) => d.name)).toEqual(['RPC0', 'RPC1']);
    for (const device of added.devices) expect(device.freeBytes).toBeGreaterThan(0);
    const model = await engine.loadModel({ path: testModelPath(), contextSize: 1024, gpuLayers: OFFLOADED });
    expect(model.offloadedLayers).toBe(OFFLOADED);
    expect(model.workerSplit?.offloadedLayers).toBe(OFFLOADED);
    expect(model.workerSplit?.why).toMatch(/^20 of 31 layers on 2 workers, 20 asked for: RPC0 at 127\.0\.0\.1:\d+ ~10 .+, this machine 11/);
  }, 120_000);

  it.each(POLICIES)('%s gives the same logits split three ways as in one process', async (policy) => {
    const split = await engine.probeLogits({ messages, follow, policy });
    const alone = single.get(policy)!;
    expect(split.promptTokens).toEqual(alone.promptTokens);
    expect(split.logits).toHaveLength(follow.length + 1);
    // the workers run the same CPU code on the same rows: bit-identical, not merely close
    expect(differingLogits(split.logits, alone.logits)).toBe(0);
  });

  it("reports each device's weights and KV bytes after a turn", async () => {
    const free: string[] = [];
    const { metrics } = await engine.runTurn({ messages, sampling: { temperature: 0, topP: 1, maxTokens: 2 }, policy: 'full' }, (event) => {
      if (event.type === 'progress' && event.live?.free) free.push(event.live.free.where);
    }).result;
    // the live meter counts the memory the KV can use: this machine's RAM and the workers'
    expect(free.length).toBeGreaterThan(0);
    expect(new Set(free)).toEqual(new Set(['RAM and workers']));
    const byDevice = new Map((metrics.memory ?? []).map((m) => [m.device, m]));
    for (const device of ['RPC0', 'RPC1']) {
      expect(byDevice.get(device)?.modelBytes).toBeGreaterThan(0);
      expect(byDevice.get(device)?.kvBytes).toBeGreaterThan(0);
      expect(byDevice.get(device)?.isHost).toBe(false);
    }
    // 11 of 30 blocks' KV here, the rest on the workers: every layer's cache is the same size
    const kvHere = (metrics.memory ?? []).filter((m) => m.isHost).reduce((sum, m) => sum + m.kvBytes, 0);
    const kvAll = (metrics.memory ?? []).reduce((sum, m) => sum + m.kvBytes, 0);
    expect(kvHere / kvAll).toBeCloseTo(11 / 30, 2);
  });

  it('a worker that is not running is left out with a line that says why, and nothing aborts', async () => {
    const spare = await EngineClient.start({ build: 'patched' });
    try {
      const added = await spare.addWorkers([parseWorkerAddress('127.0.0.1:9')]);
      expect(added.devices).toEqual([]);
      expect(added.skipped).toEqual([expect.stringMatching(/^worker 127\.0\.0\.1:9 refused the connection \(is `sift worker` running there\?\); running without it$/)]);
      expect(spare.alive).toBe(true);
    } finally {
      await spare.close();
    }
  });
});

describe('a worker killed mid-turn', () => {
  let worker: RunningWorker;
  let dataDir: string;
  let backend: Backend;
  const events: AppEvent[] = [];

  beforeAll(async () => {
    worker = await startWorker();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-workers-'));
    backend = createBackend({ dataDir, shell: 'serve', version: 'test', contextSize: 1024 });
    backend.events.subscribe((event) => events.push(event));
    await backend.models.setWorkers([worker.address]);
    await backend.models.setLoadSettings({ gpuLayers: OFFLOADED });
    await backend.models.load(testModelPath());
  }, 120_000);
  afterAll(async () => {
    await backend?.close();
    await stopWorker(worker);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('ends the turn with a clear error, keeps the partial answer, and the next turn runs without it', async () => {
    expect(backend.models.state()).toMatchObject({ workers: [worker.address], current: { workerSplit: { offloadedLayers: OFFLOADED } } });
    const session = backend.sessions.create();
    backend.sessions.updateSettings(session.id, { temperature: 0, maxTokens: 400, policy: 'full' });
    const started = await backend.sessions.send(session.id, 'Write a very long story about the sea.');
    while (events.filter((e) => e.type === 'turn.token' && e.messageId === started.assistantMessage.id).length < 3) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await stopWorker(worker);
    await backend.sessions.whenIdle();
    const answer = backend.store.messages.require(started.assistantMessage.id);
    expect(answer.status).toBe('error');
    expect(answer.error).toMatch(/worker .*stopped answering/i);
    expect(answer.content.length).toBeGreaterThan(0);

    // the store is intact: the question and the partial answer are there, and a new turn works
    backend.sessions.updateSettings(session.id, { maxTokens: 4 });
    const next = await backend.sessions.send(session.id, 'Name a color.');
    await backend.sessions.whenIdle();
    const nextAnswer = backend.store.messages.require(next.assistantMessage.id);
    expect(nextAnswer.status).toBe('complete');
    expect(nextAnswer.metrics?.notice).toMatch(new RegExp(`worker ${worker.address.replace(/\./g, '\\.')} refused the connection.*running without it`));
    expect(backend.models.state().current?.workerSplit ?? null).toBeNull();
    expect(backend.sessions.get(session.id).messages).toHaveLength(4);
  }, 180_000);
});

describe("more than one machine's memory", () => {
  const workers: RunningWorker[] = [];
  let dataDir: string;
  const cli = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', path.resolve('src-main/cli/main.ts'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, SIFT_DATA_DIR: dataDir },
      timeout: 170_000,
    });
  // an injected limit: 100 MiB of RAM here, less than SmolLM2's weights and a 2,000-token cache
  const LIMIT = ['--free-ram', '100mb', '--margin', '16mb'];

  beforeAll(async () => {
    workers.push(await startWorker(), await startWorker());
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-workers-cli-'));
  }, 120_000);
  afterAll(async () => {
    for (const worker of workers) await stopWorker(worker);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('sift plan: does not fit this machine alone, fits split across two workers, with the bytes per device', () => {
    const alone = cli(['plan', '--model', testModelPath(), '--prompt-tokens', '2000', ...LIMIT, '--json']);
    expect(alone.status, alone.stderr).toBe(1);
    expect(JSON.parse(alone.stdout)).toMatchObject({ fits: false, workers: null });

    const split = cli(['plan', '--model', testModelPath(), '--prompt-tokens', '2000', ...LIMIT, '--workers', workers.map((w) => w.address).join(','), '--json']);
    expect(split.status, split.stderr).toBe(0);
    const plan = JSON.parse(split.stdout);
    expect(plan.fits).toBe(true);
    expect(plan.explanation).toMatch(/of RAM here and on 2 workers is free/);
    expect(plan.workers.skipped).toEqual([]);
    expect(plan.workers.perDevice.map((d: { place: string }) => d.place)).toEqual(['this machine', 'RPC0', 'RPC1']);
    // every layer accounted for once, and the predicted weights and KV shared out among the places
    const places = plan.workers.perDevice as Array<{ layers: number; weightsBytes: number; kvBytes: number }>;
    expect(places.reduce((sum, p) => sum + p.layers, 0)).toBe(31);
    expect(places.reduce((sum, p) => sum + p.kvBytes, 0)).toBeCloseTo(plan.predictedBytes.kv, -2);
    for (const worker of places.slice(1)) expect(worker.weightsBytes).toBeGreaterThan(0);
  });

  it('sift ask under the same limit: a small cache alone, the full cache with the workers, their bytes reported', () => {
    const ask = (extra: string[]) => cli(['ask', '--model', testModelPath(), ...LIMIT, '--max-tokens', '4', '--json', ...extra, 'Name a color.']);
    const alone = JSON.parse(ask([]).stdout);
    expect(alone.selection).toMatchObject({ memoryName: 'RAM', lossy: false });
    expect(alone.policy).not.toBe('full');

    const run = ask(['--workers', workers.map((w) => w.address).join(',')]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^sift: \d+ of 31 layers on 2 workers/m);
    const split = JSON.parse(run.stdout);
    expect(split.status).toBe('complete');
    expect(split.policy).toBe('full');
    expect(split.selection.memoryName).toBe('RAM here and on 2 workers');
    expect(split.workerSplit.devices.map((d: { endpoint: string }) => d.endpoint)).toEqual(workers.map((w) => w.address));
    const devices = new Set((split.memory as Array<{ device: string; modelBytes: number }>).filter((m) => m.modelBytes > 0).map((m) => m.device));
    expect(devices).toEqual(new Set(['', 'RPC0', 'RPC1']));
  });
});
