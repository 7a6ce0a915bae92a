// Hostile clients against a real `sift serve` process: refused upgrades reset mid-reply, frames
// that break RFC 6455, oversized frames, malformed payloads on every channel and a burst of calls.
// After each, the process must still be running and answer a well-formed call.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { requestSchemas } from '../../src-common/schemas.js';
import { startWsServer } from '../../src-main/api/wsServer.js';
import type { ServerFrame } from '../../src-common/wsProtocol.js';
import { createBackend } from '../../src-main/app/backend.js';
import { startServe, type ServeHandle } from '../e2e/support/serveProcess.js';
import { encodeFrame, resetAfterUpgrade, sendRawFrame } from '../helpers/rawWebSocket.js';
import { testModelPath } from '../helpers/testModel.js';

const TEXT = 0x81;
const BINARY = 0x82;

function connect(port: number, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api?token=${encodeURIComponent(token)}`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Sends frames and collects the results by id, ignoring pushed events. */
function caller(ws: WebSocket, frameText: (id: number, channel: unknown, payload: unknown) => string = (id, channel, payload) => JSON.stringify({ kind: 'call', id, channel, payload })) {
  const waiting = new Map<number, (frame: ServerFrame) => void>();
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as ServerFrame;
    if (frame.kind === 'result') waiting.get(frame.id)?.(frame);
  });
  let nextId = 1;
  return (channel: unknown, payload: unknown): Promise<ServerFrame> => {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${String(channel)} in 30 s`)), 30_000);
      waiting.set(id, (frame) => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(frame);
      });
      ws.send(frameText(id, channel, payload));
    });
  };
}

async function answersWellFormedCall(port: number, token: string): Promise<boolean> {
  const ws = await connect(port, token);
  try {
    const result = await caller(ws)('app.info', {});
    return result.kind === 'result' && result.ok;
  } finally {
    ws.close();
  }
}

function peakRssBytes(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) * 1024;
}

describe('sift serve against hostile clients', () => {
  let dataDir: string;
  let rendererDir: string;
  let serve: ServeHandle;
  let port: number;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-hostile-'));
    rendererDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-renderer-'));
    fs.writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>Sift</title>');
    serve = await startServe({ dataDir, args: ['--renderer-dir', rendererDir] });
    port = Number(new URL(serve.url).port);
  });

  afterAll(async () => {
    await serve?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(rendererDir, { recursive: true, force: true });
  });

  it('survives clients that reset the connection around a refused upgrade', async () => {
    for (let i = 0; i < 20; i++) {
      await resetAfterUpgrade(port, 'wrong-token', 'at-once');
      await resetAfterUpgrade(port, 'wrong-token', 'after-reply');
    }
    expect(serve.alive()).toBe(true);
    expect(await answersWellFormedCall(port, serve.token)).toBe(true);
  });

  // Each frame breaks RFC 6455 in one way; the server closes that connection with the code the
  // RFC names and keeps serving everyone else.
  const malformed: Array<{ what: string; frame: Buffer; code: number }> = [
    { what: 'invalid UTF-8 in a text frame', frame: encodeFrame({ head: TEXT, payload: Buffer.from([0xc3, 0x28, 0xff]) }), code: 1007 },
    { what: 'an unmasked client frame', frame: encodeFrame({ head: TEXT, payload: Buffer.from('{}'), masked: false }), code: 1002 },
    { what: 'RSV1 set without an extension', frame: encodeFrame({ head: 0xc1, payload: Buffer.from('{}') }), code: 1002 },
    { what: 'reserved opcode 3', frame: encodeFrame({ head: 0x83, payload: Buffer.from('{}') }), code: 1002 },
    { what: 'a fragmented control frame', frame: encodeFrame({ head: 0x09, payload: Buffer.from('ping') }), code: 1002 },
    { what: 'a header claiming 256 MiB', frame: encodeFrame({ head: BINARY, payload: Buffer.alloc(0), claimedLength: 256 * 1024 * 1024 }), code: 1009 },
    { what: 'a header claiming 2^63 bytes', frame: encodeFrame({ head: BINARY, payload: Buffer.alloc(0), claimedLength: 2 ** 53 - 1 }), code: 1009 },
  ];
  for (const { what, frame, code } of malformed) {
    it(`closes the connection on ${what} and stays up`, async () => {
      expect(await sendRawFrame(port, serve.token, frame)).toBe(code);
      expect(serve.alive()).toBe(true);
      expect(await answersWellFormedCall(port, serve.token)).toBe(true);
    });
  }

  it('rejects malformed, 50 MB, unknown-channel, missing- and extra-field payloads on every channel', async () => {
    const ws = await connect(port, serve.token);
    const call = caller(ws);
    // JSON.stringify of 50 MB takes seconds on a busy 2-core machine; splice the string in instead.
    const huge = 'x'.repeat(50 * 1024 * 1024);
    const hugeCall = caller(ws, (id, channel, payload) => {
      const json = JSON.stringify({ kind: 'call', id, channel, payload: { ...(payload as object), huge: '@' } });
      return json.replace('"huge":"@"', `"${hugeField}":"${huge}"`);
    });
    let hugeField = '';
    const with50Mb = (channel: string, field: string, payload: object) => {
      hugeField = field;
      return hugeCall(channel, payload);
    };
    try {
      for (const [channel, schema] of Object.entries(requestSchemas)) {
        const wrongShapes: unknown[] = [42, 'text', [1, 2], { [`${channel}.extra`]: true }];
        if (!schema.safeParse({}).success) wrongShapes.push({});
        for (const payload of wrongShapes) {
          const result = await call(channel, payload);
          expect(result, `${channel} with ${JSON.stringify(payload).slice(0, 40)}`).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
        }
      }
      // 50 MB frames: text past its limit, a document that is not base64 of a session that does not
      // exist, and a field no schema has.
      expect(await with50Mb('chat.send', 'text', { sessionId: 's' })).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
      expect(await with50Mb('documents.attach', 'dataBase64', { sessionId: 'nope', name: 'a.txt' })).toMatchObject({ ok: false });
      expect(await with50Mb('sessions.create', 'huge', { title: 't' })).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
      expect(await with50Mb('no.such.channel', 'huge', {})).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
      for (const channel of ['no.such.channel', '__proto__', 'constructor', 42, null, { x: 1 }]) {
        expect(await call(channel, {})).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
      }
      // Not a call frame at all: ignored, and the connection keeps working.
      ws.send('not json');
      ws.send(JSON.stringify({ kind: 'call', id: 'x', channel: 'app.info' }));
      expect(await call('app.info', {})).toMatchObject({ ok: true });
    } finally {
      ws.close();
    }
    expect(serve.alive()).toBe(true);
    // 50 MB arrives as a frame, a string and a parsed value at most once at a time.
    expect(peakRssBytes(serve.pid)).toBeLessThan(1024 * 1024 * 1024);
  });

  it('answers 1,000 rapid calls, each once', async () => {
    const ws = await connect(port, serve.token);
    const call = caller(ws);
    try {
      const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => (i % 2 ? call('sessions.list', {}) : call('sessions.list', { bogus: i }))));
      expect(results.filter((r) => r.kind === 'result' && r.ok)).toHaveLength(500);
      expect(results.filter((r) => r.kind === 'result' && !r.ok)).toHaveLength(500);
    } finally {
      ws.close();
    }
    expect(serve.alive()).toBe(true);
  });
});

describe('the WebSocket server with a configured maximum payload', () => {
  it('refuses a real frame over the limit with 1009 and keeps serving', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-maxframe-'));
    const backend = createBackend({ dataDir, shell: 'serve', version: 'test' });
    const errors: string[] = [];
    const server = await startWsServer({
      port: 0,
      token: 'tok',
      rendererDir: dataDir,
      dispatch: backend.dispatch,
      events: backend.events,
      maxFrameBytes: 64 * 1024,
      onConnectionError: (error) => errors.push(error.message),
    });
    try {
      const payload = Buffer.from(JSON.stringify({ kind: 'call', id: 1, channel: 'app.info', payload: { pad: 'y'.repeat(100 * 1024) } }));
      expect(await sendRawFrame(server.port, 'tok', encodeFrame({ head: TEXT, payload }))).toBe(1009);
      expect(errors.join('\n')).toMatch(/max/i);
      expect(await answersWellFormedCall(server.port, 'tok')).toBe(true);
    } finally {
      await server.close();
      await backend.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('two clients on one session', () => {
  it('answers one question at a time: the other gets BUSY and the history stays whole', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-two-clients-'));
    const rendererDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-renderer-'));
    fs.writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html>');
    const serve = await startServe({ dataDir, args: ['--renderer-dir', rendererDir, '--model', testModelPath(), '--context', '1024'] });
    const port = Number(new URL(serve.url).port);
    const [a, b] = await Promise.all([connect(port, serve.token), connect(port, serve.token)]);
    try {
      const callA = caller(a);
      const callB = caller(b);
      // wait for the model that serve loads after printing its URL
      for (let i = 0; i < 600; i++) {
        const state = await callA('models.state', {});
        if (state.kind === 'result' && state.ok && (state.value as { current: unknown }).current) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const created = await callA('sessions.create', {});
      const sessionId = (created as { value: { id: string } }).value.id;
      await callA('sessions.updateSettings', { sessionId, settings: { temperature: 0, maxTokens: 8 } });
      const [first, second] = await Promise.all([
        callA('chat.send', { sessionId, text: 'Name a color.' }),
        callB('chat.send', { sessionId, text: 'Name a fruit.' }),
      ]);
      const results = [first, second] as Array<{ ok: boolean; error?: { code: string } }>;
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.find((r) => !r.ok)?.error?.code).toBe('BUSY');
      // once the answer is done, the history holds one question and one complete answer
      let messages: Array<{ role: string; status: string }> = [];
      for (let i = 0; i < 600; i++) {
        const detail = await callB('sessions.get', { sessionId });
        messages = (detail as { value: { messages: typeof messages } }).value.messages;
        if (messages.every((m) => m.status !== 'streaming')) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(messages.map((m) => `${m.role}:${m.status}`)).toEqual(['user:complete', 'assistant:complete']);
    } finally {
      a.close();
      b.close();
      await serve.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
      fs.rmSync(rendererDir, { recursive: true, force: true });
    }
  });
});
