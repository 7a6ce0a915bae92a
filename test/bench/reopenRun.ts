// A document opened again (issue 16, item 3): `npm run bench -- --reopen`. For each policy and
// length, a fresh engine process with an empty saved-cache folder reads a real-prose document for
// one question (cold; its cache is saved while idle); a second engine process on the same folder
// (the app after a restart, or a new chat) asks another question about it, restoring the saved
// cache; the same prompt is then read whole again (cachePrompt=false) to pair the answers.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import type { ChatMessage, TurnMetrics } from '../../src-common/engineTypes.js';
import type { ProseDocument, ProseQuestion } from '../../src-main/models/proseCases.js';
import { SIMLAYERKV_LAYERS } from './suite.js';
import { ask, documentMessage, sizedDocument, type ConversationContext, type ConversationTurn } from './conversationRun.js';
import { prefillCost } from './progress.js';

export const REOPEN_POLICIES = ['full', 'kv:type=q8_0', 'lazy', 'vatp:budget=0.2,pool=7,when=prompt,reuse=disk', `simlayerkv:layers=${SIMLAYERKV_LAYERS},sink=4,window=256`];
export const REOPEN_LENGTHS = { full: [8192], quick: [2048] };
const GIB = 1024 ** 3;

export interface ReopenCell {
  policy: string;
  length: number;
  /** The first question in a fresh engine, nothing saved. */
  cold: ConversationTurn;
  /** How long listing the saved caches waited for the save the cold turn started, and what it saved. */
  saveWaitMs: number;
  savedBytes: number;
  /** Another question in a new engine process on the same folder. */
  reopened: ConversationTurn & { restoredTokens: number; restoreMs: number | null; notice: string | null };
  /** The same prompt read whole. */
  reread: ConversationTurn;
  sameAnswer: boolean;
}

async function freshEngine(folder: string, modelPath: string, contextSize: number): Promise<EngineClient> {
  const client = await EngineClient.start({ build: 'patched' });
  await client.savedKv({ kind: 'configure', folder, budgetBytes: 16 * GIB });
  await client.loadModel({ path: modelPath, contextSize });
  return client;
}

async function reopenCell(ctx: ConversationContext, folder: string, policy: string, document: ProseDocument): Promise<ReopenCell> {
  const [firstQuestion, secondQuestion] = document.questions;
  const step = (what: string, turn: ConversationTurn) =>
    ctx.progress.step(prefillCost(turn.prefillTokens), turn.ttftMs, `${document.length} ${policy} ${what}: TTFT ${(turn.ttftMs / 1000).toFixed(2)} s, ${turn.reusedTokens} reused`);
  let client = await freshEngine(folder, ctx.modelPath, document.length);
  let cold: ConversationTurn;
  let saveWaitMs: number;
  let savedBytes: number;
  try {
    await client.savedKv({ kind: 'remove' });
    cold = await ask(ctx, client, policy, documentMessage(document, firstQuestion!.question), firstQuestion!, true);
    step('cold', cold);
    const listing = performance.now();
    savedBytes = (await client.savedKv({ kind: 'list' })).totalBytes;
    saveWaitMs = Math.round(performance.now() - listing);
  } finally {
    await client.close(3000).catch(() => client.kill());
  }
  client = await freshEngine(folder, ctx.modelPath, document.length);
  try {
    const messages = documentMessage(document, secondQuestion!.question);
    const { turn, metrics } = await askWithMetrics(ctx, client, policy, messages, secondQuestion!);
    step('reopened', turn);
    const restored = metrics.conversation?.restored ?? null;
    const reopened = { ...turn, restoredTokens: restored?.tokens ?? metrics.eviction?.reuse?.reusedTokens ?? 0, restoreMs: restored?.ms ?? metrics.eviction?.reuse?.restoreMs ?? null, notice: metrics.notice };
    const reread = await ask(ctx, client, policy, messages, secondQuestion!, false);
    step('re-read', reread);
    return { policy, length: document.length, cold, saveWaitMs, savedBytes, reopened, reread, sameAnswer: normalize(turn.answer) === normalize(reread.answer) };
  } finally {
    await client.close(3000).catch(() => client.kill());
  }
}

async function askWithMetrics(ctx: ConversationContext, client: EngineClient, policy: string, messages: ChatMessage[], question: ProseQuestion): Promise<{ turn: ConversationTurn; metrics: TurnMetrics }> {
  let metrics: TurnMetrics | null = null;
  const turn = await ask(ctx, client, policy, messages, question, true, (m) => (metrics = m));
  if (!metrics) throw new Error('the turn reported no metrics');
  return { turn, metrics };
}

function normalize(text: string): string {
  return text.toLowerCase().replace(/\s+/g, ' ').trim();
}

export async function runReopenBench(ctx: ConversationContext): Promise<{ cells: ReopenCell[]; documents: Array<{ length: number; sourceId: string; promptTokens: number }>; buildId: string }> {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'sift-bench-saved-kv-'));
  const cells: ReopenCell[] = [];
  const documents: Array<{ length: number; sourceId: string; promptTokens: number }> = [];
  for (const length of ctx.lengths) ctx.progress.plan(ctx.policies.length * 2 * prefillCost(length));
  let buildId = '';
  try {
    for (const length of ctx.lengths) {
      const sizing = await freshEngine(folder, ctx.modelPath, length);
      let document: ProseDocument;
      try {
        document = await sizedDocument(sizing, length);
        buildId = sizing.build.id;
      } finally {
        await sizing.close(3000).catch(() => sizing.kill());
      }
      for (const policy of ctx.policies) {
        if (ctx.isStopping()) throw new Error('stopped');
        const cell = await reopenCell(ctx, folder, policy, document);
        if (!documents.some((d) => d.length === length)) documents.push({ length, sourceId: document.sourceId, promptTokens: cell.cold.promptTokens });
        cells.push(cell);
      }
    }
    return { cells, documents, buildId };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
