// Kills a process mid-answer with SIGKILL (no exit handlers run) and checks what survives, and that
// a second process opening the database meanwhile leaves the live answer alone.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src-main/store/index.js';
import { crashTextAfter } from '../fixtures/store/crashChunks.js';
import { createTempDirTracker } from '../fixtures/store/tempDirs.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const childScript = path.join(repoRoot, 'test/fixtures/store/crash-writer.ts');
const tempDirs = createTempDirTracker('sift-crash-test-');

afterEach(() => tempDirs.removeAll());

interface AppendEvent {
  count: number;
  receivedAt: number;
}

describe('crash safety', () => {
  it('keeps the streamed prefix of an answer when the writer process is SIGKILLed', async () => {
    const dataDir = tempDirs.make();
    const child = spawn(process.execPath, ['--import', 'tsx', childScript, dataDir], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));

    const appends: AppendEvent[] = [];
    let messageId = '';
    let sessionId = '';
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const started = new Promise<void>((resolve, reject) => {
      let buffered = '';
      child.stdout.on('data', (data: Buffer) => {
        buffered += data.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          const [kind, first, second] = line.split(' ');
          if (kind === 'session' && first && second) {
            sessionId = first;
            messageId = second;
            resolve();
          } else if (kind === 'appended' && first) {
            appends.push({ count: Number(first), receivedAt: Date.now() });
          }
        }
      });
      child.on('exit', () => reject(new Error(`crash writer exited early: ${stderr}`)));
    });

    await started;
    // ~2.5 s of streaming with the default 1 s flush interval: two or three flushes.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    // while the writer lives, another process opening the database leaves its answer streaming
    const beside = openStore({ dataDir });
    try {
      expect(beside.recovered).toEqual([]);
      expect(beside.messages.require(messageId).status).toBe('streaming');
    } finally {
      beside.close();
    }
    const killedAt = Date.now();
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const appendedBeforeKill = appends.at(-1)?.count ?? 0;
    expect(appendedBeforeKill).toBeGreaterThan(20);
    // Text appended more than flush interval + slack before the kill must be on disk.
    const mustBeDurable = appends.filter((event) => event.receivedAt <= killedAt - 1600).at(-1)?.count ?? 0;
    expect(mustBeDurable).toBeGreaterThan(0);

    const store = openStore({ dataDir });
    try {
      expect(store.db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(store.sessions.list().map((session) => session.id)).toEqual([sessionId]);
      const [question, answer] = store.messages.listBySession(sessionId);
      expect(question).toMatchObject({ role: 'user', content: 'Tell me a long story', status: 'complete' });
      expect(answer?.id).toBe(messageId);
      expect(answer?.status).toBe('interrupted');
      expect(store.recovered.map((message) => message.id)).toEqual([messageId]);

      const saved = answer?.content ?? '';
      expect(saved.length).toBeGreaterThan(0);
      expect(crashTextAfter(appendedBeforeKill + 1).startsWith(saved)).toBe(true);
      expect(saved.length).toBeGreaterThanOrEqual(crashTextAfter(mustBeDurable).length);
      // Flushes happen between appends, so the saved text ends on a whole chunk.
      const savedChunks = saved.match(/chunk-\d+ /g)?.length ?? 0;
      expect(saved).toBe(crashTextAfter(savedChunks));
    } finally {
      store.close();
    }
  });
});
