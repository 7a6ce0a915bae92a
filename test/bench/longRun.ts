// Documents longer than the context (issue 16, item 1): `npm run bench -- --long`. A needle (a
// pass key) in real prose (the corpus sources one after another, as a binder of documents) of 8k,
// 32k or 64k tokens (--quick: 12k), at evenly spread depths, read whole on SmolLM2 (trained on 8k)
// through an evicting cache of the context's size; compared in the same run with what peers
// effectively do: answer from the first or the last context-full of the document (cut to fit and
// read with full KV). Rows: the evictor with the question read ahead (the default), without it,
// without it but with the question also before the document (the other way to let the question
// steer what is kept while the document streams in), and with a quarter of the context as budget.
import type { ChatMessage, TurnMetrics, TurnRequest } from '../../src-common/engineTypes.js';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import { composeUserMessage } from '../../src-main/session/documentPrompt.js';
import { DEFAULT_SESSION_SETTINGS } from '../../src-main/store/sessionDefaults.js';
import { loadProseCorpus } from '../../src-main/models/proseCases.js';
import path from 'node:path';
import { defaultCacheDir } from './cache.js';
import type { ConversationContext } from './conversationRun.js';
import { engineSourceHash, LongCheckpoint, type MeasuredOn } from './longCheckpoint.js';
import { measureOtherCpu } from './otherCpu.js';
import { cpuSummary } from './machine.js';
import { prefillCost } from './progress.js';

/** The context the model is loaded with: SmolLM2's trained one, and the cache budget. */
export const LONG_CONTEXT = 8192;
export const LONG_LENGTHS = { full: [8192, 32768, 65536], quick: [12288] };
export const LONG_DEPTHS = { full: 10, quick: 3 };
// pool=15: SmolLM2 spells a number one digit a token, and pool=7 (±3 positions around a scored
// token) let a five-digit key lose its middle digits over dozens of rounds (scripts/long-doc-probe.mts:
// 8k tokens through a 1,024-token cache, 2/4 found with pool=7, 4/4 with pool=15)
const EVICTOR = `vatp:budget=${LONG_CONTEXT},pool=15`;
/** Row ids: a policy, or a placement/policy pair, or a truncating baseline (the document cut, then read with full KV). */
// a quarter of the context too: SmolLM2 itself misses needles early in an 8k prompt (full KV at
// 8,091 tokens found 2 of 4), and a smaller cache leaves it less to search
export const LONG_POLICIES = [
  EVICTOR,
  `${EVICTOR},lookahead=none`,
  `question-first/${EVICTOR},lookahead=none`,
  `vatp:budget=${LONG_CONTEXT / 4},pool=15`,
  // ranked in runs of 16 tokens (ChunkKV) with a quarter of the cache for the recent window: 8k of
  // prose through a 512-token cache kept the key at 8/10 depths this way, 3/10 token by token with
  // pool=15 (scripts/long-doc-probe.mts, 2026-12-05); at 32k through 2,048 it lost the first 4 depths
  // (a stopped run, docs/BENCHMARKS.md), so it is kept here for a full run, not made a default
  `vatp:budget=${LONG_CONTEXT / 4},chunk=16,recent=${LONG_CONTEXT / 16}`,
  // the heads' scores combined by their largest rather than summed: at 32k through 2,048 cells the
  // summed ranking wore the pass key's sentence away a token a round, this kept it
  // (scripts/long-doc-probe.mts, 2026-12-05, docs/BENCHMARKS.md)
  `vatp:budget=${LONG_CONTEXT / 4},pool=15,heads=max`,
  // each head's scores as its share of the middle before the max (value norms differ per layer):
  // heads=max lost 0.35-0.55 at 32k (docs/BENCHMARKS.md 2026-12-05), but at 0.35 both max and share
  // held the whole needle and the model still missed it, so share is not yet shown to help there
  `vatp:budget=${LONG_CONTEXT / 4},pool=15,heads=share`,
  // a 256-token recent window instead of half the cache: at 32k depth 0.35 the bench's heads=max row
  // held the key and missed it, this found it; at 0.45 and 0.55 it held the key and lost
  // (scripts/long-doc-probe.mts, docs/BENCHMARKS.md 2026-12-05)
  `vatp:budget=${LONG_CONTEXT / 4},pool=15,heads=max,recent=256`,
  // recall=64: when the stream reaches the question, the kept sentences the question ranks highest
  // are read again just before it (the key otherwise sits behind ~90% of the kept text); at 32k it
  // found the key at 9 of 10 depths, where the heads=max row found 7 (docs/BENCHMARKS.md 2026-12-06);
  // auto reads a prompt longer than the context this way (src-common/policy/longDocument.ts)
  `vatp:budget=${LONG_CONTEXT / 4},pool=15,heads=max,recall=64`,
  'truncate:first',
  'truncate:last',
];
const QUESTION = 'What is the pass key number?';
const FOLLOW_UP = 'Please repeat the pass key number.';
const ANSWER_TOKENS = 16;
/** Prompt tokens left free in a truncated prompt: the answer, and the count's slack. */
const TRUNCATE_RESERVE = 96;
const DOCUMENT_NAME = 'binder.txt';

export interface LongCell {
  policy: string;
  length: number;
  /** Depth of the needle (0 = start of the document). */
  depth: number;
  passkey: string;
  answer: string;
  found: boolean;
  /** Truncating rows: whether the needle survived the cut (it cannot be found otherwise). */
  needleInPrompt: boolean;
  /**
   * False where the turn was not run: a truncating row whose cut left the needle out cannot find it
   * (found is false, the times and sizes are 0/null and left out of the medians). Older runs lack it.
   */
  asked?: boolean;
  promptTokens: number;
  ttftMs: number;
  prefillTokensPerSec: number;
  kvBytesPeak: number | null;
  contextSize: number;
  evicted: number | null;
  evictionRounds: number | null;
  lookaheadTokens: number | null;
  /** recall=N: the tokens read again just before the question, and their text (did it hold the key?). */
  recalled?: { tokens: number; text: string | null; heldKey: boolean } | null;
  notice: string | null;
  /**
   * Evicting rows: the key asked for again in the same conversation, which goes on from the tokens
   * the cache kept (followup=kept): its TTFT, the prompt tokens it read, and whether it named the key.
   */
  followUp?: { ttftMs: number; prefillTokens: number; found: boolean } | null;
  /** When and on which CPU the cell was measured (runs before 2026-12-06 lack it). */
  measured?: MeasuredOn;
  /** Read back from an earlier run (--resume) rather than measured by this one. */
  resumed?: boolean;
}

export interface LongResults {
  cells: LongCell[];
  documents: Array<{ length: number; sourceId: string; promptTokens: number }>;
  buildId: string;
}

/** The corpus sources one after another; repeated when a length needs more (64k tokens is about 1.8 passes). */
function binderText(chars: number): { id: string; text: string } {
  const sources = loadProseCorpus();
  const all = sources.map((s) => s.text).join('\n\n');
  const text = all.repeat(Math.ceil(chars / all.length)).slice(0, chars);
  return { id: sources.map((s) => s.id).join('+'), text: text.slice(0, Math.max(text.lastIndexOf('\n\n'), chars - 2000)) };
}

function needle(passkey: string): string {
  return `The pass key is ${passkey}. Remember it. ${passkey} is the pass key.`;
}

/** The needle as its own paragraph at the paragraph break nearest `depth`. */
export function withNeedle(text: string, depth: number, passkey: string): string {
  const target = Math.floor(depth * text.length);
  const after = text.indexOf('\n\n', target);
  const before = text.lastIndexOf('\n\n', target);
  const at = after < 0 ? before : before < 0 || after - target < target - before ? after : before;
  return at < 0 ? `${needle(passkey)}\n\n${text}` : `${text.slice(0, at)}\n\n${needle(passkey)}${text.slice(at)}`;
}

export function messages(document: string, questionFirst = false): ChatMessage[] {
  const question = questionFirst ? `${QUESTION}\n\n` : '';
  return [
    { role: 'system', content: DEFAULT_SESSION_SETTINGS.systemPrompt },
    { role: 'user', content: question + composeUserMessage(QUESTION, [{ name: DOCUMENT_NAME, text: document }]) },
  ];
}

async function countPrompt(client: EngineClient, prompt: ChatMessage[]): Promise<number> {
  const request: TurnRequest = { messages: prompt, sampling: { temperature: 0, topP: 1, maxTokens: 1 }, policy: EVICTOR };
  return (await client.planTurn(request)).promptTokens;
}

/** Prose of `length` prompt tokens (within 2%), counted on the engine's tokenizer. */
export async function sizedProse(client: EngineClient, length: number): Promise<{ id: string; text: string }> {
  let chars = length * 4;
  for (let attempt = 0; attempt < 6; attempt++) {
    const prose = binderText(chars);
    const tokens = await countPrompt(client, messages(withNeedle(prose.text, 0.5, '12345')));
    if (Math.abs(tokens - length) <= length * 0.02) return prose;
    chars = Math.floor(chars * (length / tokens));
  }
  throw new Error(`${length}: could not size the prose to ${length} tokens`);
}

/** The document cut to its first or last characters so the prompt fits the context (bisection on the engine's count). */
async function truncated(client: EngineClient, document: string, end: 'first' | 'last'): Promise<string> {
  const limit = LONG_CONTEXT - TRUNCATE_RESERVE;
  const cut = (chars: number) => (end === 'first' ? document.slice(0, chars) : document.slice(document.length - chars));
  let low = 0;
  let high = document.length;
  while (high - low > 200) {
    const mid = Math.floor((low + high) / 2);
    if ((await countPrompt(client, messages(cut(mid)))) <= limit) low = mid;
    else high = mid;
  }
  return cut(low);
}

async function run(ctx: ConversationContext, client: EngineClient, policy: string, prompt: ChatMessage[], cachePrompt = false): Promise<{ answer: string; metrics: TurnMetrics }> {
  const running = client.runTurn({ messages: prompt, sampling: { temperature: 0, topP: 1, maxTokens: ANSWER_TOKENS }, policy, cachePrompt }, () => {});
  ctx.setActiveTurn({ client, turnId: running.turnId });
  try {
    const { answer, metrics, stopReason } = await running.result;
    if (stopReason === 'cancelled') throw new Error('the turn was cancelled');
    return { answer, metrics };
  } finally {
    ctx.setActiveTurn(null);
  }
}

async function longCell(ctx: ConversationContext, client: EngineClient, row: string, document: string, length: number, depth: number, passkey: string): Promise<LongCell> {
  let prompt: ChatMessage[];
  let policy = row;
  let needleInPrompt = true;
  if (row.startsWith('truncate:')) {
    const text = await truncated(client, document, row === 'truncate:first' ? 'first' : 'last');
    needleInPrompt = text.includes(needle(passkey));
    // a context-full without the needle cannot answer: not asked (3 minutes a cell at 8k on 2 AVX2 cores)
    if (!needleInPrompt) return notAsked(row, length, depth, passkey);
    prompt = messages(text);
    policy = 'full';
  } else if (row.startsWith('question-first/')) {
    prompt = messages(document, true);
    policy = row.slice('question-first/'.length);
  } else {
    prompt = messages(document);
  }
  const { answer, metrics } = await run(ctx, client, policy, prompt);
  const e = metrics.eviction;
  let followUp: LongCell['followUp'] = null;
  if (e) {
    const conversation: ChatMessage[] = [...prompt, { role: 'assistant', content: answer }, { role: 'user', content: FOLLOW_UP }];
    const next = await run(ctx, client, policy, conversation, true);
    followUp = { ttftMs: next.metrics.ttftMs, prefillTokens: next.metrics.prefillTokens, found: next.answer.includes(passkey) };
  }
  return {
    policy: row,
    length,
    depth,
    passkey,
    answer,
    found: answer.includes(passkey),
    needleInPrompt,
    promptTokens: metrics.promptTokens,
    ttftMs: metrics.ttftMs,
    prefillTokensPerSec: metrics.prefillTokensPerSec,
    kvBytesPeak: metrics.kvBytesPeak,
    contextSize: metrics.contextSize,
    evicted: e?.evicted ?? null,
    evictionRounds: e?.rounds ?? null,
    lookaheadTokens: e?.lookaheadTokens ?? null,
    recalled: e?.recalledTokens ? { tokens: e.recalledTokens, text: e.recalledText ?? null, heldKey: (e.recalledText ?? '').includes(passkey) } : null,
    notice: metrics.notice,
    followUp,
  };
}

function notAsked(policy: string, length: number, depth: number, passkey: string): LongCell {
  return {
    policy,
    length,
    depth,
    passkey,
    answer: '',
    found: false,
    needleInPrompt: false,
    asked: false,
    promptTokens: 0,
    ttftMs: 0,
    prefillTokensPerSec: 0,
    kvBytesPeak: null,
    contextSize: 0,
    evicted: null,
    evictionRounds: null,
    lookaheadTokens: null,
    notice: null,
    followUp: null,
  };
}

/** A cell measured now: when, on which CPU, and how many cores other processes took meanwhile. */
async function measuredCell(measure: () => Promise<LongCell>, enginePid: number | undefined, cpu: string): Promise<LongCell & { measured: MeasuredOn }> {
  const otherCpu = measureOtherCpu(enginePid);
  const cell = await measure();
  return { ...cell, measured: { at: new Date().toISOString(), cpu, otherCores: otherCpu.stop() } };
}

/** A turn's prefill cost: a context-full for a truncated document; streaming through the cache, about that per context-full read. */
function turnCost(policy: string, length: number): number {
  return prefillCost(LONG_CONTEXT) * (policy.startsWith('truncate:') ? 1 : length / LONG_CONTEXT);
}

/** Evenly spread needle depths. */
export function longDepths(count: number): number[] {
  return Array.from({ length: count }, (_, i) => Math.round(((i + 0.5) / count) * 1000) / 1000);
}

/** A different key per depth and length, so no answer can be carried over. */
export function longPasskey(depthIndex: number, length: number): string {
  return String(10_000 + ((depthIndex * 7919 + length) % 89_999));
}

export async function runLongBench(ctx: ConversationContext): Promise<LongResults> {
  const depthCount = ctx.depths ?? LONG_DEPTHS[ctx.mode ?? 'full'];
  const depths = longDepths(depthCount);
  const client = await EngineClient.start({ build: 'patched' });
  // every cell is kept as it is measured; --resume reads back those of the same engine, build, model and prompt
  const checkpoint = new LongCheckpoint<LongCell>(
    path.join(defaultCacheDir(), 'long'),
    { buildId: client.build.id, modelSha256: ctx.modelSha256 ?? ctx.modelPath, engineSource: engineSourceHash() },
    ctx.resume ?? false,
  );
  const cpu = cpuSummary();
  const cells: LongCell[] = [];
  const documents: LongResults['documents'] = [];
  try {
    await client.loadModel({ path: ctx.modelPath, contextSize: LONG_CONTEXT });
    for (const length of ctx.lengths) for (const row of ctx.policies) ctx.progress.plan(depthCount * turnCost(row, length));
    for (const length of ctx.lengths) {
      const prose = await sizedProse(client, length);
      for (const [index, depth] of depths.entries()) {
        const passkey = longPasskey(index, length);
        const document = withNeedle(prose.text, depth, passkey);
        for (const row of ctx.policies) {
          if (ctx.isStopping()) throw new Error('stopped');
          const key = checkpoint.key(row, { length, depth, passkey, prompt: messages(document), answerTokens: ANSWER_TOKENS, followUp: FOLLOW_UP, context: LONG_CONTEXT });
          const kept = checkpoint.read(key);
          const cell = kept ? { ...kept, resumed: true } : await measuredCell(() => longCell(ctx, client, row, document, length, depth, passkey), client.pid, cpu);
          if (!kept) checkpoint.write(key, cell);
          if (!row.startsWith('truncate:') && !documents.some((d) => d.length === length)) documents.push({ length, sourceId: prose.id, promptTokens: cell.promptTokens });
          cells.push(cell);
          const outcome = `${length} depth ${depth} ${row}: ${cell.found ? 'found' : 'lost'}, TTFT ${(cell.ttftMs / 1000).toFixed(1)} s, ${Math.round(cell.prefillTokensPerSec)} tok/s`;
          if (kept) {
            ctx.progress.unplan(turnCost(row, length));
            ctx.progress.note(`${outcome} (kept from ${cell.measured.at.slice(0, 10)}, ${cell.measured.cpu})`);
          } else if (cell.asked === false) {
            ctx.progress.unplan(turnCost(row, length));
            ctx.progress.note(`${length} depth ${depth} ${row}: the cut left the needle out; not asked`);
          } else {
            ctx.progress.step(turnCost(row, length), cell.ttftMs, outcome);
          }
        }
      }
    }
    return { cells, documents, buildId: client.build.id };
  } finally {
    await client.close(3000).catch(() => client.kill());
  }
}
