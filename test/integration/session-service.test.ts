// The session service with the real engine (SmolLM2, greedy) and a real SQLite store in a temp
// dir: streaming, stop, regenerate, edit-and-resend, documents, busy, and an engine crash that
// leaves a readable error and a model that reloads.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AppEvent } from '../../src-common/contract.js';
import { createBackend, type Backend } from '../../src-main/app/backend.js';
import { testModelPath } from '../helpers/testModel.js';

describe('session service with the real engine', () => {
  let dataDir: string;
  let backend: Backend;
  const events: AppEvent[] = [];

  const newSession = (maxTokens = 16) => {
    const session = backend.sessions.create();
    backend.sessions.updateSettings(session.id, { temperature: 0, maxTokens });
    return session;
  };
  const finished = async (messageId: string) => {
    await backend.sessions.whenIdle();
    return backend.store.messages.require(messageId);
  };

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sift-session-'));
    backend = createBackend({ dataDir, shell: 'serve', version: 'test', contextSize: 2048 });
    backend.events.subscribe((event) => events.push(event));
    await backend.models.load(testModelPath());
  });

  afterAll(async () => {
    await backend?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('streams an answer, stores it with metrics, and names the chat after the question', async () => {
    const session = newSession();
    const started = await backend.sessions.send(session.id, 'What is the capital of France?');
    expect(started.assistantMessage.status).toBe('streaming');
    const answer = await finished(started.assistantMessage.id);

    expect(answer.status).toBe('complete');
    expect(answer.content.length).toBeGreaterThan(0);
    expect(answer.metrics?.ttftMs).toBeGreaterThan(0);
    expect(answer.metrics?.generatedTokens).toBeGreaterThan(0);
    const tokens = events.filter((e) => e.type === 'turn.token' && e.messageId === answer.id);
    expect(tokens.length).toBeGreaterThan(1);
    expect(tokens.map((e) => (e.type === 'turn.token' ? e.text : '')).join('')).toBe(answer.content);
    expect(events.some((e) => e.type === 'turn.progress' && e.messageId === answer.id)).toBe(true);
    expect(events.some((e) => e.type === 'turn.finished' && e.message.id === answer.id)).toBe(true);
    expect(backend.store.sessions.require(session.id).title).toBe('What is the capital of France?');
  });

  it("holds auto's cache to the chat's KV budget, in the preview and in the turn", async () => {
    const session = newSession(8);
    const unbudgeted = await backend.sessions.preview(session.id, 'What is the capital of France?');
    // 2,048 cells of SmolLM2's f16 KV: 45 MiB
    expect(unbudgeted).toMatchObject({ policy: 'full', predictedKvBytes: 45 * 2 ** 20 });
    backend.sessions.updateSettings(session.id, { kvBudget: '8mb' });
    const budgeted = await backend.sessions.preview(session.id, 'What is the capital of France?');
    expect(budgeted.policy).not.toBe('full');
    expect(budgeted.predictedKvBytes).toBeLessThanOrEqual(8 * 2 ** 20);
    const started = await backend.sessions.send(session.id, 'What is the capital of France?');
    const answer = await finished(started.assistantMessage.id);
    expect(answer.metrics?.policy).toBe(budgeted.policy);
    expect(answer.metrics?.kvBytesAllocated).toBeLessThanOrEqual(8 * 2 ** 20);
    expect(answer.metrics?.selection?.explanation).toBeTruthy();
  });

  it('refuses a second question while answering, and stops the running answer', async () => {
    const session = newSession(300);
    const started = await backend.sessions.send(session.id, 'Write a long story about a dragon.');
    await expect(backend.sessions.send(session.id, 'again')).rejects.toThrow(/still being written/);
    // wait for the first tokens, then stop
    while (!events.some((e) => e.type === 'turn.token' && e.messageId === started.assistantMessage.id)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await backend.sessions.stop(session.id)).toBe(true);
    const answer = backend.store.messages.require(started.assistantMessage.id);
    expect(answer.status).toBe('cancelled');
    expect(answer.metrics?.generatedTokens).toBeLessThan(300);
  });

  it('keeps the loaded model when a model load is refused during an answer', async () => {
    const session = newSession(300);
    const started = await backend.sessions.send(session.id, 'Write a long story about a dragon.');
    while (!events.some((e) => e.type === 'turn.token' && e.messageId === started.assistantMessage.id)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await expect(backend.models.load(testModelPath())).rejects.toMatchObject({ code: 'BUSY' });
    await backend.sessions.stop(session.id);
    expect(backend.models.state()).toMatchObject({ engine: 'ready', current: { path: testModelPath() } });
    const next = await finished((await backend.sessions.send(session.id, 'Name a color.')).assistantMessage.id);
    expect(next.status).toBe('complete');
  });

  it('regenerates the last answer in place (greedy gives the same text)', async () => {
    const session = newSession();
    const first = await finished((await backend.sessions.send(session.id, 'Name a color.')).assistantMessage.id);
    const again = await backend.sessions.regenerate(session.id);
    const second = await finished(again.assistantMessage.id);
    const messages = backend.store.messages.listBySession(session.id);
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(messages[1]?.id).toBe(second.id);
    expect(second.id).not.toBe(first.id);
    expect(second.content).toBe(first.content);
  });

  it('edits a question and drops everything after it', async () => {
    const session = newSession(8);
    const one = await backend.sessions.send(session.id, 'Say one.');
    await finished(one.assistantMessage.id);
    await finished((await backend.sessions.send(session.id, 'Say two.')).assistantMessage.id);
    const edited = await backend.sessions.editAndResend(session.id, one.userMessage!.id, 'Say three.');
    await finished(edited.assistantMessage.id);
    const messages = backend.store.messages.listBySession(session.id);
    expect(messages.map((m) => [m.role, m.role === 'user' ? m.content : m.status])).toEqual([
      ['user', 'Say three.'],
      ['assistant', 'complete'],
    ]);
  });

  it('attaches a document and sends it with the question', async () => {
    const session = newSession(24);
    const text = '# Log\n\nThe fog signal sounds every 20 seconds.\n';
    const document = await backend.sessions.attach(session.id, 'log.md', Buffer.from(text));
    expect(document).toMatchObject({ name: 'log.md', sizeBytes: Buffer.byteLength(text) });
    expect('text' in document).toBe(false);
    const started = await backend.sessions.send(session.id, 'How often does the fog signal sound?', [document.id]);
    const answer = await finished(started.assistantMessage.id);
    expect(answer.status).toBe('complete');
    // the document was part of the prompt: far more prompt tokens than the question alone
    expect(answer.metrics?.promptTokens).toBeGreaterThan(40);
    expect(backend.sessions.get(session.id).messages[0]?.documentIds).toEqual([document.id]);
    await expect(backend.sessions.attach(session.id, 'empty.txt', Buffer.alloc(0))).rejects.toThrow();
  });

  it('marks the answer as an error when the engine dies, restarts it for the next answer, and says so', async () => {
    const session = newSession(400);
    const started = await backend.sessions.send(session.id, 'Write a very long story about the sea.');
    while (!events.some((e) => e.type === 'turn.token' && e.messageId === started.assistantMessage.id)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const pid = backend.supervisor.enginePid;
    expect(pid).toBeTypeOf('number');
    process.kill(pid!, 'SIGKILL');
    const answer = await finished(started.assistantMessage.id);
    expect(answer.status).toBe('error');
    expect(answer.error).toMatch(/engine process/i);
    expect(answer.content.length).toBeGreaterThan(0);
    expect(backend.models.state().engine).toBe('crashed');

    // the next question starts a fresh engine with the same model, and its answer says so
    backend.sessions.updateSettings(session.id, { maxTokens: 8 });
    const next = await finished((await backend.sessions.send(session.id, 'Name a color.')).assistantMessage.id);
    expect(next.status).toBe('complete');
    expect(next.metrics?.notice).toMatch(/^The engine stopped during an earlier answer \(.+\); Sift started it again with .+ before this answer\./);
    expect(backend.models.state()).toMatchObject({ engine: 'ready', current: { path: testModelPath() } });
    expect(backend.supervisor.enginePid).not.toBe(pid);
  });

  it('stops restarting an engine that keeps dying before any answer completes, and asks the person to act', async () => {
    const session = newSession(400);
    const killMidAnswer = async () => {
      const started = await backend.sessions.send(session.id, 'Write a very long story about the sea.');
      while (!events.some((e) => e.type === 'turn.token' && e.messageId === started.assistantMessage.id)) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      process.kill(backend.supervisor.enginePid!, 'SIGKILL');
      expect((await finished(started.assistantMessage.id)).status).toBe('error');
    };
    // the test above completed an answer after its restart, so two restarts are allowed again
    process.kill(backend.supervisor.enginePid!, 'SIGKILL');
    await vi.waitFor(() => expect(backend.models.state().engine).toBe('crashed'));
    await killMidAnswer(); // restart 1, its answer killed
    await killMidAnswer(); // restart 2, its answer killed
    await expect(backend.sessions.send(session.id, 'Say two.')).rejects.toThrow(/3 times within 5 minutes.*Reload the model/);

    const state = await backend.models.reload();
    expect(state.engine).toBe('ready');
    expect(state.current?.path).toBe(testModelPath());
    backend.sessions.updateSettings(session.id, { maxTokens: 8 });
    const retry = await finished((await backend.sessions.regenerate(session.id)).assistantMessage.id);
    expect(retry.status).toBe('complete');
  });
});
