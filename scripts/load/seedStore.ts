// Fills a data dir the way using the app would: chats created and named after their first
// question, documents attached through the app's attach function (bytes → extraction → store),
// turns written by beginTurn and a streaming writer finished with the turn's metrics. Store API
// only, no SQL, so triggers (the search index) and transactions run as in the app.
import { statSync } from 'node:fs';
import path from 'node:path';
import type { TurnMetrics } from '../../src-common/engineTypes.js';
import { attachDocument } from '../../src-main/session/documentAttach.js';
import { titleFromQuestion } from '../../src-main/session/sessionTitle.js';
import { openStore } from '../../src-main/store/index.js';
import { createProse, type Prose } from './prose.js';

export interface SeedPlan {
  sessions: number;
  messagesPerSession: number;
  documents: number;
  seed: number;
}

export interface SeededData {
  sessionIds: string[];
  /** The session whose documents hold the most text (opening it lists them). */
  heaviestDocumentSession: { id: string; documents: number; chars: number };
  titles: string[];
  documentChars: number[];
  questionChars: number[];
  answerChars: number[];
  databaseBytes: number;
  seedMs: number;
}

/** In every document and nowhere else: search does not look inside documents. */
export const DOCUMENT_ONLY_WORD = 'Vexlarhund';

// SmolLM2-135M's shape: 30 layers, 3 KV heads of 64 (f16 K and V: 768 bytes per token per layer).
const LAYERS = 30;
const KV_BYTES_PER_TOKEN_LAYER = 768;
const CONTEXT = 8192;

/** Metrics shaped like a real `auto` turn's on SmolLM2 (~3.8 KB of JSON, as `sift serve` stores them). */
function turnMetrics(prose: Prose, promptTokens: number, generatedTokens: number, reusedTokens: number): TurnMetrics {
  const prefillTokens = promptTokens - reusedTokens;
  const ttftMs = round2(prefillTokens / 0.3 + 20 + prose.random() * 60);
  const decodeMs = generatedTokens * prose.between(18, 30);
  const layerBytes = CONTEXT * KV_BYTES_PER_TOKEN_LAYER;
  const kvAllocated = LAYERS * layerBytes;
  const kvUsed = LAYERS * (promptTokens + generatedTokens) * KV_BYTES_PER_TOKEN_LAYER;
  return {
    build: 'patched',
    policy: 'full',
    promptTokens,
    prefillTokens,
    generatedTokens,
    ttftMs,
    totalMs: ttftMs + decodeMs,
    // the engine rounds rates to two decimals
    prefillTokensPerSec: round2((prefillTokens * 1000) / ttftMs),
    decodeTokensPerSec: round2((generatedTokens * 1000) / Math.max(1, decodeMs)),
    kvBytesAllocated: kvAllocated,
    kvBytesUsed: kvUsed,
    contextSize: CONTEXT,
    perLayer: Array.from({ length: LAYERS }, (_, layer) => ({
      layer,
      cells: promptTokens + generatedTokens,
      bytes: layerBytes,
      trimmed: false,
      computed: prefillTokens,
      keys: promptTokens,
    })),
    kvBytesPeak: kvAllocated,
    kvBytesSteady: kvAllocated,
    kvPredicted: { steadyKvBytes: kvAllocated, peakKvBytes: kvAllocated, exact: true },
    memory: [
      { bufferType: 'CPU_Mapped', device: '', isHost: true, modelBytes: 96_576_768, kvBytes: 0, computeBytes: 0 },
      { bufferType: 'CPU', device: '', isHost: true, modelBytes: 0, kvBytes: kvAllocated, computeBytes: 174_467_072 },
    ],
    eviction: null,
    lazy: null,
    simLayerKvDecision: null,
    selection: {
      requested: 'auto',
      preference: 'balanced',
      policy: 'full',
      lossy: false,
      predictedBytes: { model: 0, kv: kvAllocated, compute: 17_000_000, peak: kvAllocated + 17_000_000, steady: kvAllocated },
      freeBytes: 18_000_000_000,
      marginBytes: 1_073_741_824,
      memoryName: 'RAM',
      explanation: `full KV fits in free RAM (${(kvAllocated / 1024 ** 2).toFixed(0)} MiB of 16.8 GiB); nothing is dropped`,
    },
    conversation: { reusedTokens, revived: null, next: 'whole', nextReason: null },
    notice: null,
  };
}

export async function seedStore(dataDir: string, plan: SeedPlan): Promise<SeededData> {
  const started = performance.now();
  const prose = createProse(plan.seed);
  const store = openStore({ dataDir });
  const data: SeededData = {
    sessionIds: [],
    heaviestDocumentSession: { id: '', documents: 0, chars: -1 },
    titles: [],
    documentChars: [],
    questionChars: [],
    answerChars: [],
    databaseBytes: 0,
    seedMs: 0,
  };
  try {
    const turns = Math.floor(plan.messagesPerSession / 2);
    for (let s = 0; s < plan.sessions; s++) {
      const session = store.sessions.create();
      data.sessionIds.push(session.id);
      // documents dealt round-robin: with 30 over 20 chats, ten chats hold two
      const documentIds: string[] = [];
      let chars = 0;
      for (let d = s; d < plan.documents; d += plan.sessions) {
        const text = documentText(prose, prose.between(20_000, 200_000));
        const summary = await attachDocument(store, { sessionId: session.id, name: `report-${d + 1}.txt`, bytes: Buffer.from(text) });
        documentIds.push(summary.id);
        data.documentChars.push(text.length);
        chars += text.length;
      }
      if (chars > data.heaviestDocumentSession.chars) data.heaviestDocumentSession = { id: session.id, documents: documentIds.length, chars };

      // a long conversation is cut to the context, as the engine does
      let promptTokens = Math.min(CONTEXT - 300, Math.round(chars / 4) + 60);
      for (let t = 0; t < turns; t++) {
        const question = prose.question(prose.between(100, 400));
        const answer = prose.text(prose.between(500, 3000));
        const turn = store.beginTurn({ sessionId: session.id, userContent: question, documentIds: t === 0 ? documentIds : [] });
        // as SessionService.send names a new chat
        if (t === 0) data.titles.push(store.sessions.rename(session.id, titleFromQuestion(question)).title);
        const reused = promptTokens;
        promptTokens = Math.min(CONTEXT - 300, promptTokens + Math.round((question.length + answer.length) / 4) + 12);
        turn.writer.append(answer);
        // now and then an answer stopped by the user, as people do
        turn.writer.finish(turnMetrics(prose, promptTokens, Math.round(answer.length / 4), t === 0 ? 0 : reused), t % 37 === 36 ? 'cancelled' : 'complete');
        data.questionChars.push(question.length);
        data.answerChars.push(answer.length);
      }
    }
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    data.databaseBytes = statSync(path.join(dataDir, 'sift.db')).size;
  } finally {
    store.close();
  }
  data.seedMs = performance.now() - started;
  return data;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function documentText(prose: Prose, chars: number): string {
  const paragraphs = prose.text(chars).split('\n\n');
  const at = prose.between(0, paragraphs.length - 1);
  paragraphs.splice(at, 0, `The ${DOCUMENT_ONLY_WORD} ledger was sealed in ${prose.between(1700, 1990)} and kept in the north archive.`);
  return paragraphs.join('\n\n');
}
