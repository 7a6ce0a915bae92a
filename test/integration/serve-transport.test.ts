// The loopback serve transport: what it binds, what it serves, and who may call the api over its
// WebSocket (token, Host and Origin checks), with the real back end and SQLite in a temp dir.
import fs from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { AppEvent } from '../../src-common/contract.js';
import { startWsServer, type RunningServer } from '../../src-main/api/wsServer.js';
import type { ServerFrame } from '../../src-common/wsProtocol.js';
import { createBackend, type Backend } from '../../src-main/app/backend.js';
import { startServe } from '../e2e/support/serveProcess.js';

const TOKEN = 'test-token-0123456789';

function httpGet(port: number, urlPath: string, host = `127.0.0.1:${port}`): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: urlPath, headers: { Host: host } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function connect(port: number, token: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api?token=${encodeURIComponent(token)}`, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function call(ws: WebSocket, id: number, channel: string, payload: unknown): Promise<ServerFrame> {
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      const frame = JSON.parse(String(data)) as ServerFrame;
      if (frame.kind === 'result' && frame.id === id) {
        ws.off('message', onMessage);
        resolve(frame);
      }
    };
    ws.on('message', onMessage);
    ws.send(JSON.stringify({ kind: 'call', id, channel, payload }));
  });
}

describe('serve transport', () => {
  let dataDir: string;
  let rendererDir: string;
  let backend: Backend;
  let server: RunningServer;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-serve-'));
    rendererDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-renderer-'));
    fs.writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>Sift</title>');
    backend = createBackend({ dataDir, shell: 'serve', version: 'test' });
    server = await startWsServer({ port: 0, token: TOKEN, rendererDir, dispatch: backend.dispatch, events: backend.events });
  });

  afterAll(async () => {
    await server?.close();
    await backend?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(rendererDir, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 only and prints a URL with the token', () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/#token=${TOKEN}`);
  });

  it('serves the renderer with a strict CSP, and nothing outside its folder', async () => {
    const page = await httpGet(server.port, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>Sift</title>');
    expect(String(page.headers['content-security-policy'])).toContain("default-src 'none'");
    expect(String(page.headers['content-security-policy'])).toContain("script-src 'self'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect((await httpGet(server.port, '/../../etc/passwd')).status).not.toBe(200);
    expect((await httpGet(server.port, '/%2e%2e/%2e%2e/etc/passwd')).status).not.toBe(200);
    expect((await httpGet(server.port, '/missing.js')).status).toBe(404);
  });

  it('refuses requests for another host name (DNS rebinding)', async () => {
    expect((await httpGet(server.port, '/', `evil.example:${server.port}`)).status).toBe(421);
  });

  it('refuses WebSocket connections without the token or from another origin', async () => {
    await expect(connect(server.port, '')).rejects.toThrow(/403/);
    await expect(connect(server.port, 'wrong-token')).rejects.toThrow(/403/);
    await expect(connect(server.port, TOKEN, { Origin: 'https://evil.example' })).rejects.toThrow(/403/);
    await expect(connect(server.port, TOKEN, { Host: `evil.example:${server.port}` })).rejects.toThrow(/403/);
  });

  it('carries validated calls and pushes events to every client', async () => {
    const ws = await connect(server.port, TOKEN, { Origin: `http://127.0.0.1:${server.port}` });
    const other = await connect(server.port, TOKEN);
    const seen: AppEvent[] = [];
    other.on('message', (data) => {
      const frame = JSON.parse(String(data)) as ServerFrame;
      if (frame.kind === 'event') seen.push(frame.event);
    });
    try {
      const created = await call(ws, 1, 'sessions.create', { title: 'Over WebSocket' });
      expect(created).toMatchObject({ ok: true, value: { title: 'Over WebSocket' } });
      expect(await call(ws, 2, 'sessions.create', { title: 5 })).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
      expect(await call(ws, 3, 'sessions.get', { sessionId: 'nope' })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
      expect(await call(ws, 4, 'models.pickFile', {})).toMatchObject({ ok: false, error: { code: 'UNSUPPORTED' } });
      await expect.poll(() => seen).toContainEqual({ type: 'sessions.changed' });
    } finally {
      ws.close();
      other.close();
    }
  });
});

describe('sift serve command', () => {
  it('prints one line with the loopback URL and honours SIFT_TOKEN', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-serve-cli-'));
    const rendererDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-renderer-'));
    fs.writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html>');
    const serve = await startServe({ dataDir, args: ['--renderer-dir', rendererDir], env: { SIFT_TOKEN: 'chosen-token' } });
    try {
      expect(serve.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#token=chosen-token$/);
      const lines = serve.output().split('\n').filter((line) => line.startsWith('Sift is running at'));
      expect(lines).toHaveLength(1);
    } finally {
      await serve.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
      fs.rmSync(rendererDir, { recursive: true, force: true });
    }
  });
});
