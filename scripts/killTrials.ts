// `npm run kill-trials`: SIGKILL at random moments, then check that nothing was lost (issue 18).
// Three kinds, each on its own data folder that grows over its trials:
//   app-answer    `sift serve` (the app process) killed while an answer streams
//   app-import    `sift serve` killed while a document is read and stored
//   engine-answer the engine process killed while an answer streams; serve lives on
// After each kill: PRAGMA integrity_check is ok; every message committed before the trial is
// unchanged; a killed answer keeps what was flushed (a prefix of what was streamed); a document is
// stored whole or not at all; and the next question is answered (after an app restart, or after
// the engine's automatic restart). Bounded by --trials; fixed seed; loopback only.
//
//   npm run kill-trials [-- --trials 50] [--seed 1] [--kinds app-answer,app-import,engine-answer] [--json]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { seededRandom } from '../src-engine/sampling.js';
import { startServe, type ServeHandle } from '../test/e2e/support/serveProcess.js';
import { testModelPath } from '../test/helpers/testModel.js';
import { enginePid, rssBytes } from './load/procStats.js';
import { connectServe, type ServeClient } from './load/serveClient.js';

const KINDS = ['app-answer', 'app-import', 'engine-answer'] as const;
type Kind = (typeof KINDS)[number];

interface Options {
  trials: number;
  seed: number;
  kinds: Kind[];
  json: boolean;
}

/** The store flushes a streaming answer every 250 ms (sessionService.ts); allow two intervals. */
const FLUSH_SLACK_MS = 500;
const PROSE = readFileSync(path.join(import.meta.dirname, '../resources/prose/us-constitution.txt'), 'utf8');

interface TrialResult {
  kind: Kind;
  trial: number;
  /** Milliseconds after the request that the kill landed. */
  killAtMs: number;
  /** What the killed request had done: tokens streamed, or whether the import had answered. */
  phase: string;
  failures: string[];
  /** After an app kill: how long its engine process lived on (null: past the limit). */
  engineExitMs?: number | null;
}

/** How long an orphaned engine may take to notice its app is gone and exit. */
const ENGINE_EXIT_LIMIT_MS = 10_000;

/** Milliseconds until the process is gone, or null if it is still there after `limitMs`. */
async function msUntilGone(pid: number, limitMs: number): Promise<number | null> {
  const started = Date.now();
  while (rssBytes(pid) !== null) {
    if (Date.now() - started > limitMs) return null;
    await sleep(20);
  }
  return Date.now() - started;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { trials: 50, seed: 1, kinds: [...KINDS], json: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1] ?? '';
    if (flag === '--json') options.json = true;
    else if ((flag === '--trials' || flag === '--seed') && /^\d+$/.test(value)) {
      options[flag.slice(2) as 'trials' | 'seed'] = Number(value);
      i++;
    } else if (flag === '--kinds') {
      const kinds = value.split(',');
      const unknown = kinds.filter((kind) => !(KINDS as readonly string[]).includes(kind));
      if (unknown.length > 0) throw new Error(`unknown kind ${unknown.join(', ')}; kinds: ${KINDS.join(', ')}`);
      options.kinds = kinds as Kind[];
      i++;
    } else throw new Error(`unknown or malformed option ${flag}`);
  }
  return options;
}

interface StoredMessage {
  id: string;
  content: string;
  status: string;
}

/** A read-only look at the database, as it is on disk right after a kill. */
function inspectDatabase(dataDir: string) {
  const db = new Database(path.join(dataDir, 'sift.db'), { readonly: true, fileMustExist: true });
  try {
    const integrity = (db.prepare('PRAGMA integrity_check').pluck().all() as string[]).join('; ');
    const messages = db.prepare('SELECT id, content, status FROM messages').all() as StoredMessage[];
    const documents = db.prepare('SELECT name, length(text) AS length FROM documents').all() as Array<{ name: string; length: number }>;
    return { integrity, messages, documents };
  } finally {
    db.close();
  }
}

/** Messages that are settled (not streaming): these must survive every later kill unchanged. */
function committed(messages: StoredMessage[]): Map<string, StoredMessage> {
  return new Map(messages.filter((m) => m.status !== 'streaming').map((m) => [m.id, m]));
}

function lostOrChanged(before: Map<string, StoredMessage>, after: StoredMessage[]): string[] {
  const now = new Map(after.map((m) => [m.id, m]));
  const failures: string[] = [];
  for (const [id, message] of before) {
    const current = now.get(id);
    if (!current) failures.push(`committed message ${id} is gone`);
    else if (current.content !== message.content || current.status !== message.status) failures.push(`committed message ${id} changed`);
  }
  return failures;
}

class ServeUnderTest {
  serve: ServeHandle | null = null;
  client: ServeClient | null = null;
  constructor(readonly dataDir: string) {}

  async start(): Promise<ServeClient> {
    this.serve = await startServe({ dataDir: this.dataDir, args: ['--model', testModelPath()] });
    this.client = await connectServe(this.serve.origin, this.serve.token, 120_000);
    await waitFor(async () => {
      const state = await this.client!.call('models.state', {});
      if (state.engine === 'ready' && state.current === null && state.error) throw new Error(`the model did not load: ${state.error}`);
      return state.engine === 'ready' && state.current !== null;
    }, 120_000, 'the model to load');
    return this.client;
  }

  async kill(): Promise<number | null> {
    const serve = this.serve!;
    const engine = enginePid(serve.pid);
    this.client?.close();
    process.kill(serve.pid, 'SIGKILL');
    await waitFor(() => !serve.alive(), 10_000, 'serve to die');
    this.serve = null;
    this.client = null;
    return engine;
  }

  async stop(): Promise<void> {
    this.client?.close();
    await this.serve?.stop();
  }
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Streams an answer and records when each piece of text arrived. */
async function startAnswer(client: ServeClient, sessionId: string, question: string) {
  const pieces: Array<{ at: number; text: string }> = [];
  let messageId = '';
  let finished: { status: string; content: string } | null = null;
  const off = client.onEvent((event) => {
    if (event.type === 'turn.token' && event.messageId === messageId) pieces.push({ at: Date.now(), text: event.text });
    if (event.type === 'turn.finished' && event.message.id === messageId) finished = event.message;
  });
  const sentAt = Date.now();
  messageId = (await client.call('chat.send', { sessionId, text: question })).assistantMessage.id;
  return {
    messageId,
    sentAt,
    /** The streamed text up to a moment. */
    textBy: (at: number) => pieces.filter((piece) => piece.at <= at).map((piece) => piece.text).join(''),
    finished: () => finished as { status: string; content: string } | null,
    stop: off,
  };
}

/** After a kill of an answer: kept text is a prefix of what streamed, and holds what was flushed. */
function checkPartialAnswer(stored: StoredMessage | undefined, streamed: string, flushedAtLeast: string): string[] {
  if (!stored) return ['the killed answer row is missing'];
  if (!streamed.startsWith(stored.content)) return [`the kept answer is not what was streamed (${stored.content.length} chars kept)`];
  if (stored.content.length < flushedAtLeast.length) {
    return [`the kept answer lost flushed text: ${stored.content.length} chars kept, ${flushedAtLeast.length} streamed ${FLUSH_SLACK_MS} ms before the kill`];
  }
  return [];
}

async function askShort(client: ServeClient, sessionId: string): Promise<string[]> {
  await client.call('sessions.updateSettings', { sessionId, settings: { maxTokens: 8, temperature: 0 } });
  const answer = await startAnswer(client, sessionId, 'Name a color.');
  try {
    await waitFor(() => answer.finished() !== null, 120_000, 'the next answer');
  } finally {
    answer.stop();
  }
  const status = answer.finished()?.status;
  return status === 'complete' ? [] : [`the next answer ended ${status}`];
}

async function appAnswerTrial(runner: ServeUnderTest, random: () => number, trial: number): Promise<TrialResult> {
  const client = runner.client ?? (await runner.start());
  const session = await client.call('sessions.create', { title: `kill ${trial}` });
  await client.call('sessions.updateSettings', { sessionId: session.id, settings: { maxTokens: 300, temperature: 0.8 } });
  const before = committed(inspectDatabase(runner.dataDir).messages);
  const answer = await startAnswer(client, session.id, 'Write a long story about a lighthouse keeper.');
  // anywhere from prefill to late in the answer (about 3 s of tokens on two cores)
  await sleep(random() * 3500);
  const killedAt = Date.now();
  const streamed = answer.textBy(killedAt);
  const engine = await runner.kill();
  answer.stop();
  const failures: string[] = [];
  const after = inspectDatabase(runner.dataDir);
  if (after.integrity !== 'ok') failures.push(`integrity_check: ${after.integrity}`);
  failures.push(...lostOrChanged(before, after.messages));
  const killed = after.messages.find((m) => m.id === answer.messageId);
  if (!answer.finished()) failures.push(...checkPartialAnswer(killed, streamed, answer.textBy(killedAt - FLUSH_SLACK_MS)));
  // the engine exits when its channel to the app closes; under load that can take a moment
  const engineExitMs = engine === null ? 0 : await msUntilGone(engine, ENGINE_EXIT_LIMIT_MS);
  if (engineExitMs === null) failures.push(`the engine process ${engine} outlived the app by over ${ENGINE_EXIT_LIMIT_MS / 1000} s`);
  // the next start marks the answer interrupted, keeps its text, and answers again
  const next = await runner.start();
  const reopened = inspectDatabase(runner.dataDir).messages.find((m) => m.id === answer.messageId);
  if (!answer.finished() && reopened?.status !== 'interrupted') failures.push(`the killed answer is ${reopened?.status} after a restart`);
  if (killed && reopened && reopened.content !== killed.content) failures.push('the killed answer changed on restart');
  failures.push(...(await askShort(next, session.id)));
  const phase = answer.finished() ? 'after the answer ended' : `${streamed.length} chars streamed`;
  return { kind: 'app-answer', trial, killAtMs: killedAt - answer.sentAt, phase, failures, engineExitMs };
}

/** How long one import takes here, measured once without a kill, so kills spread over it. */
let importMs: number | null = null;

async function appImportTrial(runner: ServeUnderTest, random: () => number, trial: number): Promise<TrialResult> {
  const client = runner.client ?? (await runner.start());
  const session = await client.call('sessions.create', { title: `import ${trial}` });
  const documentBytes = (label: string) => Buffer.from(`${label}.\n\n${PROSE.repeat(4)}`).toString('base64');
  if (importMs === null) {
    const startedAt = Date.now();
    await client.call('documents.attach', { sessionId: session.id, name: 'calibration.txt', dataBase64: documentBytes('Calibration') });
    importMs = Date.now() - startedAt;
  }
  const before = inspectDatabase(runner.dataDir);
  // each trial a different document (a distinct hash), a few hundred KiB of text; what a whole
  // import stores is what the calibration import stored, plus the longer label
  const text = `Trial ${trial}`;
  const wholeLength = before.documents.find((d) => d.name === 'calibration.txt')!.length + text.length - 'Calibration'.length;
  const sentAt = Date.now();
  let answered = false;
  const attach = client
    .call('documents.attach', { sessionId: session.id, name: `trial-${trial}.txt`, dataBase64: documentBytes(text) })
    .then(
      () => (answered = true),
      () => undefined,
    );
  await sleep(random() * importMs * 1.2);
  const killAtMs = Date.now() - sentAt;
  await runner.kill();
  void attach;
  const failures: string[] = [];
  const after = inspectDatabase(runner.dataDir);
  if (after.integrity !== 'ok') failures.push(`integrity_check: ${after.integrity}`);
  failures.push(...lostOrChanged(committed(before.messages), after.messages));
  const stored = after.documents.filter((d) => d.name === `trial-${trial}.txt`);
  if (stored.length > 1) failures.push('the document was stored twice');
  if (stored.length === 1 && stored[0]!.length !== wholeLength) failures.push(`the document was stored half: ${stored[0]!.length} of ${wholeLength} chars`);
  if (answered && stored.length === 0) failures.push('the import answered but its document is not in the database');
  const next = await runner.start();
  failures.push(...(await askShort(next, session.id)));
  const phase = answered ? 'after the import answered' : stored.length === 1 ? 'stored, before the answer' : 'before it was stored';
  return { kind: 'app-import', trial, killAtMs, phase, failures };
}

async function engineAnswerTrial(runner: ServeUnderTest, random: () => number, trial: number): Promise<TrialResult> {
  const client = runner.client ?? (await runner.start());
  const session = await client.call('sessions.create', { title: `engine kill ${trial}` });
  await client.call('sessions.updateSettings', { sessionId: session.id, settings: { maxTokens: 300, temperature: 0.8 } });
  const before = committed(inspectDatabase(runner.dataDir).messages);
  const engine = enginePid(runner.serve!.pid);
  if (engine === null) throw new Error('no engine process under serve');
  const answer = await startAnswer(client, session.id, 'Write a long story about a lighthouse keeper.');
  await sleep(random() * 3500);
  const killedAt = Date.now();
  process.kill(engine, 'SIGKILL');
  const failures: string[] = [];
  try {
    await waitFor(() => answer.finished() !== null, 60_000, 'the killed answer to end');
  } catch (error) {
    failures.push(String(error));
  }
  answer.stop();
  const finished = answer.finished();
  const after = inspectDatabase(runner.dataDir);
  if (after.integrity !== 'ok') failures.push(`integrity_check: ${after.integrity}`);
  failures.push(...lostOrChanged(before, after.messages));
  const killed = after.messages.find((m) => m.id === answer.messageId);
  // an answer that ended just before the kill is complete; otherwise an error that keeps its text
  if (finished && finished.status !== 'complete') {
    if (finished.status !== 'error') failures.push(`the killed answer ended ${finished.status}`);
    failures.push(...checkPartialAnswer(killed, answer.textBy(Date.now()), answer.textBy(killedAt - FLUSH_SLACK_MS)));
  }
  if (!runner.serve?.alive()) failures.push('serve died with its engine');
  failures.push(...(await askShort(client, session.id)));
  const phase = finished?.status === 'complete' ? 'after the answer ended' : `${answer.textBy(killedAt).length} chars streamed`;
  return { kind: 'engine-answer', trial, killAtMs: killedAt - answer.sentAt, phase, failures };
}

const TRIALS: Record<Kind, typeof appAnswerTrial> = {
  'app-answer': appAnswerTrial,
  'app-import': appImportTrial,
  'engine-answer': engineAnswerTrial,
};

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const random = seededRandom(options.seed);
  const started = performance.now();
  const results: TrialResult[] = [];
  for (const kind of options.kinds) {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), `sift-kill-${kind}-`));
    const runner = new ServeUnderTest(dataDir);
    try {
      for (let trial = 1; trial <= options.trials; trial++) {
        const result = await TRIALS[kind](runner, random, trial).catch(
          (error: unknown): TrialResult => ({ kind, trial, killAtMs: -1, phase: 'the trial itself failed', failures: [String(error)] }),
        );
        results.push(result);
        if (!options.json) {
          const verdict = result.failures.length === 0 ? 'ok' : `FAILED: ${result.failures.join('; ')}`;
          const exit = typeof result.engineExitMs === 'number' ? `; its engine gone ${result.engineExitMs} ms later` : '';
          console.log(`${kind} ${trial}/${options.trials}: killed at ${result.killAtMs} ms (${result.phase}${exit}): ${verdict}`);
        }
      }
    } finally {
      await runner.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  const seconds = Math.round((performance.now() - started) / 1000);
  const summary = options.kinds.map((kind) => {
    const ofKind = results.filter((r) => r.kind === kind);
    return {
      kind,
      trials: ofKind.length,
      failed: ofKind.filter((r) => r.failures.length > 0).length,
      slowestEngineExitMs: Math.max(0, ...ofKind.map((r) => r.engineExitMs ?? 0)),
      phases: countBy(ofKind.map((r) => r.phase.replace(/^0 chars streamed$/, 'before the first token').replace(/^\d+ chars streamed$/, 'mid-answer'))),
    };
  });
  if (options.json) console.log(JSON.stringify({ seed: options.seed, seconds, summary, failures: results.filter((r) => r.failures.length > 0) }));
  else {
    for (const line of summary) {
      const exit = line.kind === 'app-answer' ? `; the orphaned engine exited within ${line.slowestEngineExitMs} ms at most` : '';
      console.log(`${line.kind}: ${line.trials} trials, ${line.failed} failed; killed ${JSON.stringify(line.phases)}${exit}`);
    }
    console.log(`${seconds} s${importMs === null ? '' : `; one import took ${importMs} ms here`}`);
  }
  return results.every((r) => r.failures.length === 0) ? 0 : 1;
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

process.exit(await main());
