// Bad input gets a clear error and loses nothing; a crashed or orphaned engine never takes the
// app down or lingers.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, openSync, readSync, closeSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import { EngineError } from '../../src-engine/engineError.js';
import { EngineSupervisor } from '../../src-main/models/engineSupervisor.js';
import { testModelPath } from '../helpers/testModel.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sift-engine-'));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return predicate();
}

describe('engine errors a person can act on', () => {
  let engine: EngineClient;
  beforeAll(async () => {
    engine = await EngineClient.start({ build: 'patched' });
  });
  afterAll(async () => engine?.close());

  it('says when the model file does not exist', async () => {
    await expect(engine.loadModel({ path: path.join(tmp, 'missing.gguf') })).rejects.toMatchObject({
      code: 'MODEL_NOT_FOUND',
      message: expect.stringContaining('missing.gguf'),
    });
  });

  it('says when a file is not a GGUF model', async () => {
    const notGguf = path.join(tmp, 'notes.gguf');
    writeFileSync(notGguf, 'this is a text file, not a model');
    await expect(engine.loadModel({ path: notGguf })).rejects.toMatchObject({
      code: 'MODEL_INVALID',
      message: expect.stringContaining('not a GGUF model file'),
    });
  });

  it('says when a GGUF file is truncated, and stays usable', async () => {
    const truncated = path.join(tmp, 'truncated.gguf');
    const source = openSync(testModelPath(), 'r');
    const head = Buffer.alloc(2 * 1024 * 1024);
    readSync(source, head, 0, head.length, 0);
    closeSync(source);
    writeFileSync(truncated, head);
    await expect(engine.loadModel({ path: truncated })).rejects.toMatchObject({ code: 'MODEL_INVALID' });
    expect(engine.alive).toBe(true);
  });

  it('refuses a turn before any model is loaded', async () => {
    const { result } = engine.runTurn(
      { messages: [{ role: 'user', content: 'hi' }], sampling: { temperature: 0, topP: 1, maxTokens: 4 }, policy: 'full' },
      () => {},
    );
    await expect(result).rejects.toMatchObject({ code: 'NO_MODEL_LOADED' });
  });

  it('rejects a prompt longer than the context before doing any work', async () => {
    const copy = path.join(tmp, 'model.gguf');
    copyFileSync(testModelPath(), copy);
    await engine.loadModel({ path: copy, contextSize: 256 });
    const { result } = engine.runTurn(
      { messages: [{ role: 'user', content: 'word '.repeat(400) }], sampling: { temperature: 0, topP: 1, maxTokens: 4 }, policy: 'full' },
      () => {},
    );
    await expect(result).rejects.toMatchObject({ code: 'PROMPT_TOO_LONG', message: expect.stringMatching(/\d+ tokens but the context holds 256/) });
  });

  it('rejects a prompt longer than the model was trained on, before any work, unless eviction streams it in', async () => {
    // a budget lets the prompt outgrow the context; only evicting while it streams in keeps its
    // positions within the trained ones (8,192 here); when=prompt needs it whole in one context
    await engine.loadModel({ path: testModelPath() });
    const content = 'word '.repeat(8300);
    for (const policy of ['full', 'snapkv:budget=0.2,when=prompt', 'vatp:budget=0.2,pool=7,when=prompt']) {
      const progress: number[] = [];
      const { result } = engine.runTurn(
        { messages: [{ role: 'user', content }], sampling: { temperature: 0, topP: 1, maxTokens: 4 }, policy },
        (event) => {
          if (event.type === 'progress') progress.push(event.done);
        },
      );
      await expect(result, policy).rejects.toMatchObject({ code: 'PROMPT_TOO_LONG', message: expect.stringMatching(/\d+ tokens but .*(8192|context holds)/) });
      expect(progress.filter((done) => done > 0), policy).toEqual([]);
    }
  });

  it('rejects a malformed policy with the reason', async () => {
    const { result } = engine.runTurn(
      { messages: [{ role: 'user', content: 'hi' }], sampling: { temperature: 0, topP: 1, maxTokens: 4 }, policy: 'kv:type=q3' },
      () => {},
    );
    await expect(result).rejects.toMatchObject({ code: 'BAD_POLICY', message: expect.stringContaining('q8_0') });
  });
});

describe('engine process lifecycle', () => {
  it('turns a crash mid-answer into ENGINE_CRASHED for the waiting call, keeping what streamed', async () => {
    const engine = await EngineClient.start({ build: 'patched' });
    await engine.loadModel({ path: testModelPath(), contextSize: 1024 });
    const streamed: string[] = [];
    const exits: Array<string | null> = [];
    engine.onExit((exit) => exits.push(exit.signal));
    const { result } = engine.runTurn(
      { messages: [{ role: 'user', content: 'Write a long story about a lighthouse.' }], sampling: { temperature: 0, topP: 1, maxTokens: 400 }, policy: 'full' },
      (event) => {
        if (event.type === 'token') {
          streamed.push(event.text);
          if (streamed.length === 5) engine.kill();
        }
      },
    );
    const error = await result.catch((err: unknown) => err);
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).code).toBe('ENGINE_CRASHED');
    expect((error as EngineError).message).toContain('SIGKILL');
    expect(streamed.length).toBeGreaterThanOrEqual(5);
    expect(exits).toEqual(['SIGKILL']);
    expect(engine.alive).toBe(false);
    await expect(engine.loadModel({ path: testModelPath() })).rejects.toMatchObject({ code: 'ENGINE_CRASHED' });
  });

  it('blames the file, not the engine, when the engine dies while loading it, and reloads the last good model', async () => {
    const supervisor = new EngineSupervisor({ loadOptions: () => ({ contextSize: 512 }), onChange: () => {} });
    try {
      await supervisor.load(testModelPath());
      // what a header that passes Sift's check but trips an assert in llama.cpp's loader does
      // (docs/RELIABILITY.md lists them): the engine dies during the load
      const copy = path.join(tmp, 'dies-while-loading.gguf');
      copyFileSync(testModelPath(), copy);
      const loading = supervisor.load(copy);
      process.kill(supervisor.enginePid!, 'SIGKILL');
      await expect(loading).rejects.toMatchObject({
        code: 'ENGINE_CRASHED',
        message: expect.stringMatching(/^dies-while-loading\.gguf stopped the engine while loading: it was killed by SIGKILL.*choose another model\.$/),
      });
      expect(supervisor.status).toBe('crashed');
      expect(supervisor.error).toContain('choose another model');
      // Reload brings back the model that last loaded, not the one that crashed
      await expect(supervisor.reload()).resolves.toMatchObject({ path: testModelPath() });
      expect(supervisor.status).toBe('ready');
    } finally {
      await supervisor.close();
    }
  });

  it('says a SIGILL is the build, not the model: a variant switched off, or how to rebuild', async () => {
    // what ggml's AMX kernel does on some Intel Xeon VMs at the first decode (issue 17)
    const previousStateFile = process.env['SIFT_CPU_VARIANTS_FILE'];
    process.env['SIFT_CPU_VARIANTS_FILE'] = path.join(mkdtempSync(path.join(os.tmpdir(), 'sift-sigill-')), 'cpu-variants.json');
    const supervisor = new EngineSupervisor({ loadOptions: () => ({ contextSize: 512 }), onChange: () => {} });
    try {
      await supervisor.load(testModelPath());
      const { client } = supervisor.requireReady();
      const { result } = client.runTurn(
        { messages: [{ role: 'user', content: 'Write a long story.' }], sampling: { temperature: 0, topP: 1, maxTokens: 200 }, policy: 'full' },
        (event) => {
          if (event.type === 'token') process.kill(client.pid!, 'SIGILL');
        },
      );
      const error = (await result.catch((err: unknown) => err)) as EngineError;
      expect(error.code).toBe('ENGINE_CRASHED');
      // a variants build switches the variant off (the reload is tested in engine-cpu-variants);
      // a native build would crash again, so the advice is to rebuild, not to reload
      const advice =
        client.build.cpu.build === 'variants'
          ? new RegExp(`killed by SIGILL.*Its ${client.build.cpu.variant} CPU code uses an instruction this processor does not run, so Sift has switched that variant off`)
          : /killed by SIGILL.*reloading would crash again.*npm run build-native -- --cpu variants --force/;
      expect(error.message).toMatch(advice);
      await expect.poll(() => supervisor.status).toBe('crashed');
      expect(supervisor.error).toMatch(advice);
    } finally {
      await supervisor.close();
      if (previousStateFile === undefined) delete process.env['SIFT_CPU_VARIANTS_FILE'];
      else process.env['SIFT_CPU_VARIANTS_FILE'] = previousStateFile;
    }
  });

  it('exits when its parent process dies', async () => {
    const parent = spawn(process.execPath, ['--import', 'tsx', path.resolve('test/fixtures/engine/parent-of-engine.ts')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      let buffer = '';
      parent.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        if (buffer.includes('\n')) resolve(buffer.split('\n')[0]!);
      });
      parent.on('exit', () => reject(new Error('parent exited before starting the engine')));
    });
    const { enginePid } = JSON.parse(line) as { enginePid: number };
    expect(isAlive(enginePid)).toBe(true);
    parent.kill('SIGKILL');
    expect(await waitFor(() => !isAlive(enginePid), 10_000)).toBe(true);
  });
});
