// `sift ask` as a person runs it: a real process, the real model, a real SQLite file.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src-main/store/index.js';
import { passkeyDocument } from '../helpers/passkey.js';
import { testModelPath } from '../helpers/testModel.js';

const CLI = [`--import`, 'tsx', path.resolve('src-main/cli/main.ts')];

function runCli(args: string[], dataDir: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [...CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env, SIFT_DATA_DIR: dataDir },
    timeout: 170_000,
  });
}

describe('sift ask', () => {
  it('answers about a ~4,000-token file and prints one JSON object with the metrics', () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sift-cli-'));
    const doc = path.join(dataDir, 'report.txt');
    writeFileSync(doc, passkeyDocument(3900, 0.3, '58216'));
    const res = runCli(['ask', '--json', '--policy', 'full', '--model', testModelPath(), '--file', doc, '--max-tokens', '24', 'What is the pass key number?'], dataDir);
    expect(res.status, res.stderr).toBe(0);
    const lines = res.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const out = JSON.parse(lines[0]!) as Record<string, unknown> & { perLayer: Array<Record<string, number>> };
    expect(out['answer']).toContain('58216');
    expect(out['promptTokens']).toBeGreaterThan(3800);
    for (const key of ['ttftMs', 'prefillTokensPerSec', 'decodeTokensPerSec', 'kvBytesAllocated', 'kvBytesUsed', 'kvBytesPeak', 'kvBytesSteady']) {
      expect(out[key], key).toBeGreaterThan(0);
    }
    expect(out['build']).toBe('patched');
    expect(out['perLayer']).toHaveLength(30);
    // a full prefill computes every prompt token at every layer, attending to all of them
    expect(out.perLayer[0]).toEqual({
      layer: 0,
      cells: expect.any(Number),
      bytes: expect.any(Number),
      computed: out['promptTokens'],
      keys: out['promptTokens'],
      trimmed: false,
    });
    // the backend's allocation (memory breakdown) is the layers' K and V, and never changed
    expect(out['kvBytesSteady']).toBe(out['kvBytesAllocated']);
    expect(out['kvBytesPeak']).toBe(out['kvBytesSteady']);
    expect(out['eviction']).toBeNull();
    expect(out['simLayerKvDecision']).toBeNull();

    // the turn was saved like any chat, metrics included
    const store = openStore({ dataDir });
    try {
      const [session] = store.sessions.list();
      const messages = store.messages.listBySession(session!.id);
      expect(messages.map((m) => m.role)).toEqual(['user', 'assistant']);
      expect(messages[1]!.metrics?.ttftMs).toBe(out['ttftMs']);
      expect(store.documents.listBySession(session!.id)[0]?.name).toBe('report.txt');
    } finally {
      store.close();
    }
  });

  it('asked again about the same file, restores the cache the last question saved instead of reading it', () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sift-cli-reopen-'));
    const doc = path.join(dataDir, 'report.txt');
    writeFileSync(doc, passkeyDocument(1500, 0.3, '58216'));
    const ask = (question: string) => {
      const res = runCli(['ask', '--json', '--policy', 'full', '--model', testModelPath(), '--file', doc, '--max-tokens', '8', question], dataDir);
      expect(res.status, res.stderr).toBe(0);
      return JSON.parse(res.stdout.trim()) as { promptTokens: number; prefillTokens: number; restored: { tokens: number } | null };
    };
    const first = ask('What is the pass key number?');
    expect(first.restored).toBeNull();
    expect(first.prefillTokens).toBe(first.promptTokens);
    const second = ask('Which number is the pass key?');
    expect(second.restored!.tokens).toBeGreaterThan(first.promptTokens - 30);
    expect(second.prefillTokens).toBe(second.promptTokens - second.restored!.tokens);
    expect(readdirSync(path.join(dataDir, 'saved-kv')).filter((f) => f.endsWith('.state')).length).toBeGreaterThan(0);
  });

  it('keeps the partial answer when killed mid-answer, and the database stays intact', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sift-cli-kill-'));
    const child = spawn(
      process.execPath,
      [...CLI, 'ask', '--model', testModelPath(), '--max-tokens', '600', 'Write a long story about a lighthouse keeper and the sea.'],
      { env: { ...process.env, SIFT_DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let printed = '';
    await new Promise<void>((resolve, reject) => {
      let firstTokenAt = 0;
      child.stdout.on('data', (chunk: Buffer) => {
        printed += chunk.toString();
        if (!firstTokenAt && printed.length > 0) firstTokenAt = Date.now();
        // past the 250 ms flush interval several times over
        if (firstTokenAt && Date.now() - firstTokenAt > 1500 && printed.length > 80) resolve();
      });
      child.on('exit', () => reject(new Error(`the CLI ended before it could be killed: ${printed}`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    const readStatus = () => {
      const db = new Database(path.join(dataDir, 'sift.db'), { readonly: true });
      try {
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
        return (db.prepare(`SELECT status FROM messages WHERE role = 'assistant'`).all() as Array<{ status: string }>).map((r) => r.status);
      } finally {
        db.close();
      }
    };
    expect(readStatus()).toEqual(['streaming']);
    // the next CLI run sees that the writer is gone and marks the answer, without any app
    const next = runCli(['ask', '--model', testModelPath(), '--max-tokens', '2', 'Hi'], dataDir);
    expect(next.status, next.stderr).toBe(0);
    expect(readStatus()).toEqual(['interrupted', 'complete']);

    const store = openStore({ dataDir });
    try {
      const sessions = store.sessions.list();
      expect(sessions).toHaveLength(2);
      const answer = sessions.flatMap((s) => store.messages.listBySession(s.id)).find((m) => m.role === 'assistant' && m.status !== 'complete');
      expect(answer?.status).toBe('interrupted');
      expect(answer!.content.length).toBeGreaterThan(20);
      expect(printed.startsWith(answer!.content)).toBe(true);
    } finally {
      store.close();
    }
  });

  it('explains bad command lines and bad files, with exit codes 2 and 1', () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sift-cli-err-'));
    const noQuestion = runCli(['ask', '--model', testModelPath()], dataDir);
    expect(noQuestion.status).toBe(2);
    expect(noQuestion.stderr).toContain('a question is needed');

    const badPolicy = runCli(['ask', '--model', testModelPath(), '--policy', 'turbo', 'hi'], dataDir);
    expect(badPolicy.status).toBe(2);
    expect(badPolicy.stderr).toContain('unknown policy "turbo"');

    const missingModel = runCli(['ask', '--model', path.join(dataDir, 'nope.gguf'), 'hi'], dataDir);
    expect(missingModel.status).toBe(1);
    expect(missingModel.stderr).toContain('Model file not found');

    const binary = path.join(dataDir, 'blob.txt');
    writeFileSync(binary, Buffer.from([0, 1, 2, 0, 255, 0]));
    const badFile = runCli(['ask', '--model', testModelPath(), '--file', binary, 'hi'], dataDir);
    expect(badFile.status).toBe(1);
    expect(badFile.stderr.length).toBeGreaterThan(10);

    // past the document limit: refused when read, before tokenizing, with the limit named
    const long = path.join(dataDir, 'long.txt');
    writeFileSync(long, 'A sentence of ordinary words. '.repeat(2000));
    const started = Date.now();
    const tooLong = runCli(['ask', '--model', testModelPath(), '--file', long, 'hi'], dataDir, { SIFT_MAX_DOCUMENT_TOKENS: '1000' });
    expect(tooLong.status).toBe(1);
    expect(tooLong.stderr).toContain('longer than about 1,000 tokens');
    expect(tooLong.stderr).toContain('SIFT_MAX_DOCUMENT_TOKENS');
    expect(Date.now() - started).toBeLessThan(60_000);

    // past the size limit: refused by its size before it is read, with the limit and its setting named
    const bigFile = path.join(dataDir, 'big.txt');
    writeFileSync(bigFile, Buffer.alloc(2 * 1024 * 1024, 'a'));
    const sized = runCli(['ask', '--model', testModelPath(), '--file', bigFile, 'hi'], dataDir, { SIFT_MAX_DOCUMENT_MB: '1' });
    expect(sized.status).toBe(1);
    expect(sized.stderr).toMatch(/is 2\.0 MiB; the largest file Sift reads is 1\.0 MiB \(SIFT_MAX_DOCUMENT_MB raises it\)/);

    // no failed ask above left a chat or a document behind
    const store = openStore({ dataDir });
    try {
      expect(store.sessions.list()).toEqual([]);
      expect(store.db.prepare('SELECT count(*) AS n FROM documents').get()).toEqual({ n: 0 });
    } finally {
      store.close();
    }
  });
});

describe('sift plan', () => {
  it('says what auto would choose from the GGUF header alone, as text or JSON, and exits 1 when nothing fits', () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sift-plan-'));
    const ample = runCli(['plan', '--model', testModelPath(), '--prompt-tokens', '4000', '--free-ram', '8gb', '--json'], dataDir);
    expect(ample.status, ample.stderr).toBe(0);
    const plan = JSON.parse(ample.stdout) as Record<string, unknown> & { predictedBytes: Record<string, number> };
    expect(plan).toMatchObject({ policy: 'full', fits: true, lossy: false, contextSize: 8192, expectedTtftMs: null });
    // SmolLM2's 8k-token f16 cache: 30 layers × 2 × 3 KV heads × 64 × 2 bytes a token
    expect(plan.predictedBytes['kv']).toBe(8192 * 30 * 2 * 3 * 64 * 2);
    expect(plan.predictedBytes['peak']).toBe(plan.predictedBytes['model']! + plan.predictedBytes['kv']! + plan.predictedBytes['compute']!);

    const tight = runCli(['plan', '--model', testModelPath(), '--prompt-tokens', '6000', '--free-ram', '230mb', '--margin', '16mb'], dataDir);
    expect(tight.status, tight.stderr).toBe(0);
    expect(tight.stdout).toMatch(/^Policy: vatp:budget=\d+,pool=7\+kv:type=q8_0$/m);
    expect(tight.stdout).toContain('Notice: Eviction keeps part of the document');

    const none = runCli(['plan', '--model', testModelPath(), '--prompt-tokens', '6000', '--free-ram', '50mb', '--margin', '0b'], dataDir);
    expect(none.status).toBe(1);
    expect(none.stdout).toContain('does not fit');
    expect(none.stdout).toMatch(/weights alone need/);

    const gpu = runCli(['plan', '--model', testModelPath(), '--prompt-tokens', '4000', '--free-vram', '4gb', '--json'], dataDir);
    expect(gpu.status, gpu.stderr).toBe(0);
    expect((JSON.parse(gpu.stdout) as { explanation: string }).explanation).toContain('of VRAM is free');

    // sift ask --explain says the decision before the answer
    const explained = runCli(['ask', '--explain', '--free-ram', '100mb', '--margin', '0b', '--max-tokens', '4', '--model', testModelPath(), 'Name a color.'], dataDir);
    expect(explained.status, explained.stderr).toBe(0);
    expect(explained.stderr).toMatch(/sift: auto chose streaming:budget=\d+ for \d+ prompt tokens: .*nothing is evicted/);

    const usage = runCli(['plan', '--model', testModelPath()], dataDir);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('--prompt-tokens <n> or --file <document> is needed');
    const corrupt = path.join(dataDir, 'broken.gguf');
    writeFileSync(corrupt, Buffer.from('GGUF not really a model'));
    const bad = runCli(['plan', '--model', corrupt, '--prompt-tokens', '10'], dataDir);
    expect(bad.status).toBe(1);
    expect(bad.stderr.length).toBeGreaterThan(10);
  });

  it("--dry-run asks llama.cpp what the chosen policy's contexts would allocate, beside the formula", () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sift-plan-dry-'));
    const tight = runCli(['plan', '--model', testModelPath(), '--prompt-tokens', '6000', '--free-ram', '230mb', '--margin', '16mb', '--dry-run', '--json'], dataDir);
    expect(tight.status, tight.stderr).toBe(0);
    const plan = JSON.parse(tight.stdout) as { policy: string; predictedBytes: Record<string, number>; dryRun: Array<{ stage: string; contextSize: number; modelBytes: number; kvBytes: number; computeBytes: number; formula: { kvBytes: number } }> };
    expect(plan.policy).toMatch(/^vatp:budget=\d+,pool=7\+kv:type=q8_0$/);
    const [turn] = plan.dryRun;
    expect(turn).toMatchObject({ stage: 'turn' });
    // the q8_0 budget's KV, to the byte, as the plan predicted it
    expect(turn!.kvBytes).toBe(turn!.formula.kvBytes);
    expect(turn!.kvBytes).toBe(plan.predictedBytes['kv']);
    expect(turn!.modelBytes).toBeGreaterThan(0);
    expect(turn!.modelBytes).toBeLessThanOrEqual(plan.predictedBytes['model']!);
    const text = runCli(['plan', '--model', testModelPath(), '--prompt-tokens', '600', '--free-ram', '8gb', '--dry-run'], dataDir);
    expect(text.stdout).toMatch(/^llama\.cpp dry run, turn context \(8,192 tokens\): weights [\d.]+ MiB, KV 180\.0 MiB, compute [\d.]+ MiB$/m);
  });

  it('expects a first-token time once this model has answered a plain prefill here, from that turn\'s rate', () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sift-plan-ttft-'));
    const before = runCli(['plan', '--model', testModelPath(), '--prompt-tokens', '600', '--free-ram', '8gb', '--json'], dataDir);
    expect(before.status, before.stderr).toBe(0);
    expect(JSON.parse(before.stdout)).toMatchObject({ expectedTtftMs: null, expectedTtftBasis: null });

    const document = path.join(dataDir, 'notes.txt');
    writeFileSync(document, 'The boats went out with the tide and came back with it. '.repeat(45));
    const asked = runCli(['ask', '--json', '--policy', 'full', '--max-tokens', '2', '--model', testModelPath(), '--file', document, 'What came back?'], dataDir);
    expect(asked.status, asked.stderr).toBe(0);
    const turn = JSON.parse(asked.stdout) as { promptTokens: number; ttftMs: number };
    expect(turn.promptTokens).toBeGreaterThanOrEqual(256);

    // one sample: the same length gives back its TTFT; twice the length more than twice the time
    const same = runCli(['plan', '--model', testModelPath(), '--prompt-tokens', String(turn.promptTokens), '--free-ram', '8gb', '--json'], dataDir);
    expect(same.status, same.stderr).toBe(0);
    const planned = JSON.parse(same.stdout) as { policy: string; expectedTtftMs: number; expectedTtftBasis: string };
    expect(planned.policy).toBe('full');
    expect(Math.abs(planned.expectedTtftMs - turn.ttftMs)).toBeLessThanOrEqual(1);
    expect(planned.expectedTtftBasis).toMatch(/rate of the last 1 plain prefill of this model on this machine/);
    const longer = JSON.parse(runCli(['plan', '--model', testModelPath(), '--prompt-tokens', String(2 * turn.promptTokens), '--free-ram', '8gb', '--json'], dataDir).stdout) as { expectedTtftMs: number };
    expect(longer.expectedTtftMs).toBeGreaterThan(2 * planned.expectedTtftMs - 2);
    const text = runCli(['plan', '--model', testModelPath(), '--prompt-tokens', '3000', '--free-ram', '8gb'], dataDir);
    expect(text.stdout).toMatch(/^Expected first token: [\d.]+ (ms|s) \(the prefill's arithmetic at the rate of the last 1 plain prefill/m);
  });

  it('counts a document with --file exactly as the turn that asks about it counts its prompt', () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sift-plan-file-'));
    const document = path.join(dataDir, 'notes.md');
    writeFileSync(document, `# Harbour notes\n\n${'The tide came in twice a day and the boats went out with it. '.repeat(40)}\n\nThe harbour master was Elsbeth Marrow.\n`);
    const question = 'Who was the harbour master?';
    const planned = runCli(['plan', '--model', testModelPath(), '--file', document, '--free-ram', '8gb', '--json', question], dataDir);
    expect(planned.status, planned.stderr).toBe(0);
    const plan = JSON.parse(planned.stdout) as { policy: string; promptTokens: number; document: { name: string; characters: number; questionAllowanceTokens: number } };
    expect(plan.document).toMatchObject({ name: 'notes.md', questionAllowanceTokens: 0 });
    expect(plan.policy).toBe('full');
    const asked = runCli(['ask', '--json', '--policy', 'full', '--max-tokens', '2', '--model', testModelPath(), '--file', document, question], dataDir);
    expect(asked.status, asked.stderr).toBe(0);
    expect(plan.promptTokens).toBe((JSON.parse(asked.stdout) as { promptTokens: number }).promptTokens);

    // without a question, room is left for one; the text output names the document
    const noQuestion = runCli(['plan', '--model', testModelPath(), '--file', document, '--free-ram', '8gb'], dataDir);
    expect(noQuestion.status, noQuestion.stderr).toBe(0);
    expect(noQuestion.stdout).toMatch(/^Document: notes\.md, [\d,]+ characters; the prompt is [\d,]+ tokens \(no question given: 64 tokens left for one\)$/m);

    // a KV budget below the full cache: auto keeps to it and says why
    const budgeted = runCli(['plan', '--model', testModelPath(), '--prompt-tokens', '6000', '--free-ram', '8gb', '--budget', '64mb', '--json'], dataDir);
    expect(budgeted.status, budgeted.stderr).toBe(0);
    const withBudget = JSON.parse(budgeted.stdout) as { policy: string; predictedBytes: { kv: number }; notices: string[] };
    expect(withBudget.predictedBytes.kv).toBeLessThanOrEqual(64 * 2 ** 20);
    expect(withBudget.notices.join(' ')).toContain('held to the budget of 64.0 MiB');

    const both = runCli(['plan', '--model', testModelPath(), '--file', document, '--prompt-tokens', '10'], dataDir);
    expect(both.status).toBe(2);
    expect(both.stderr).toContain('not both');
    const empty = path.join(dataDir, 'empty.pdf');
    writeFileSync(empty, Buffer.alloc(0));
    const unreadable = runCli(['plan', '--model', testModelPath(), '--file', empty], dataDir);
    expect(unreadable.status).not.toBe(0);
    expect(unreadable.stderr).toMatch(/empty\.pdf/);
  });
});
