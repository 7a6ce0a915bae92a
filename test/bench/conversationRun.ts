// Follow-up questions on one document (issue 16, item 2): `npm run bench -- --conversation`. For
// each policy and length, a real-prose document (proseCases.ts) is asked one question cold, then
// two follow-ups in the same conversation; each follow-up is asked again with the cache set
// aside (cachePrompt=false: the whole conversation read again under the same policy), so its
// TTFT and its answer are paired with that re-read. Lazy prefill's follow-up is also asked after
// the person has "read" the first answer (a pause as long as the first turn), when its pruned
// tokens have been revived while idle, and at once, when the follow-up waits for the revival.
import { EngineClient } from '../../src-main/engine/engineClient.js';
import type { ChatMessage, TurnMetrics, TurnRequest } from '../../src-common/engineTypes.js';
import { composeUserMessage } from '../../src-main/session/documentPrompt.js';
import { DEFAULT_SESSION_SETTINGS } from '../../src-main/store/sessionDefaults.js';
import { answerMatches, loadProseCorpus, proseLength, type ProseDocument, type ProseQuestion } from '../../src-main/models/proseCases.js';
import { prefillCost, type Progress } from './progress.js';
import type { ActiveTurn } from './passkeyTurn.js';
import { SIMLAYERKV_LAYERS } from './suite.js';

/** The conversation: the first question, then these many follow-ups. */
export const FOLLOW_UPS = 2;
/** Room for the questions and answers after the document. */
const CONVERSATION_RESERVE = 256;
const ANSWER_TOKENS = 32;

// the pass-key suite's SimLayerKV layers (suite.ts); the app's eviction presets go on from the
// tokens they kept (followup=kept), the reuse=disk row keeps the full KV on disk for follow-ups
export const CONVERSATION_POLICIES = [
  'full',
  'kv:type=q8_0',
  `simlayerkv:layers=${SIMLAYERKV_LAYERS},sink=4,window=256`,
  'lazy',
  // the first read lazy at full size, the follow-ups in the trimmed layers it moves into (issue 14)
  `lazy+simlayerkv:layers=${SIMLAYERKV_LAYERS},sink=4,window=256`,
  'vatp:budget=0.25,pool=7',
  'snapkv:budget=0.25',
  'vatp:budget=0.2,pool=7,when=prompt,reuse=disk',
];
export const CONVERSATION_LENGTHS = { full: [2048, 4096, 8192], quick: [1024, 2048] };

export interface ConversationTurn {
  question: string;
  answer: string;
  correct: boolean;
  promptTokens: number;
  /** Tokens evaluated for the prompt, and those reused from the last turn's cache. */
  prefillTokens: number;
  reusedTokens: number;
  ttftMs: number;
  revived: { tokens: number; ms: number; waitedMs: number } | null;
  /** lazy+simlayerkv: the conversation's move into the trimmed context before this turn. */
  moved: { tokens: number; fromBytes: number; toBytes: number; ms: number; waitedMs: number } | null;
  /** The KV bytes of the context the turn answered in. */
  kvBytesSteady: number | null;
  next: string | null;
}

export interface FollowUpPair {
  index: number;
  /** The follow-up in the conversation (the cache reused) and the same prompt read again. */
  reused: ConversationTurn;
  reread: ConversationTurn;
  sameAnswer: boolean;
}

export interface ConversationCell {
  policy: string;
  length: number;
  first: ConversationTurn;
  followUps: FollowUpPair[];
  /** Lazy prefill: the first follow-up asked after a pause as long as the first turn. */
  afterPause: { pauseMs: number; turn: ConversationTurn } | null;
}

export interface ConversationContext {
  modelPath: string;
  lengths: number[];
  policies: string[];
  progress: Progress;
  setActiveTurn: (turn: ActiveTurn | null) => void;
  isStopping: () => boolean;
  /** --depths and the mode, for runs that read them (--long). */
  depths?: number | null;
  mode?: 'full' | 'quick';
  /** --long: the model file's sha256 (a kept cell's key), and whether to read back cells an earlier run kept. */
  modelSha256?: string;
  resume?: boolean;
}

function normalize(text: string): string {
  return text.toLowerCase().replace(/\s+/g, ' ').trim();
}

export function documentMessage(document: ProseDocument, question: string): ChatMessage[] {
  return [
    { role: 'system', content: DEFAULT_SESSION_SETTINGS.systemPrompt },
    { role: 'user', content: composeUserMessage(question, [{ name: `${document.sourceId}.txt`, text: document.text }]) },
  ];
}

export async function ask(
  ctx: ConversationContext,
  client: EngineClient,
  policy: string,
  messages: ChatMessage[],
  question: ProseQuestion,
  cachePrompt: boolean,
  onMetrics?: (metrics: TurnMetrics) => void,
): Promise<ConversationTurn> {
  const request: TurnRequest = { messages, sampling: { temperature: 0, topP: 1, maxTokens: ANSWER_TOKENS }, policy, cachePrompt };
  const running = client.runTurn(request, () => {});
  ctx.setActiveTurn({ client, turnId: running.turnId });
  try {
    const { answer, metrics, stopReason } = await running.result;
    if (stopReason === 'cancelled') throw new Error('the turn was cancelled');
    onMetrics?.(metrics);
    return describe(question, answer, metrics);
  } finally {
    ctx.setActiveTurn(null);
  }
}

function describe(question: ProseQuestion, answer: string, m: TurnMetrics): ConversationTurn {
  const c = m.conversation;
  return {
    question: question.question,
    answer,
    correct: answerMatches(answer, question.accept),
    promptTokens: m.promptTokens,
    prefillTokens: m.prefillTokens,
    // from the last turn's cache, or (reuse=disk) from the full KV stored on disk
    reusedTokens: (c?.reusedTokens ?? 0) + (m.eviction?.reuse?.reusedTokens ?? 0),
    ttftMs: m.ttftMs,
    revived: c?.revived ?? null,
    moved: c?.moved ?? null,
    kvBytesSteady: m.kvBytesSteady,
    next: c ? (c.next === 'none' || c.next === 'kept' ? `${c.next}: ${c.nextReason ?? ''}` : c.next) : null,
  };
}

/** The document of a length, cut so the whole conversation fits the context (counted on the engine). */
export async function sizedDocument(client: EngineClient, length: number): Promise<ProseDocument> {
  const sources = loadProseCorpus();
  const target = length - CONVERSATION_RESERVE;
  let chars = target * 4;
  for (let attempt = 0; attempt < 5; attempt++) {
    const document = proseLength(length, [0.15, 0.4, 0.65, 0.9], sources, () => chars).documents[0]!;
    const tokens = (await client.planTurn({ messages: documentMessage(document, document.questions[0]!.question), sampling: { temperature: 0, topP: 1, maxTokens: 1 }, policy: 'full' })).promptTokens;
    if (tokens <= target && tokens >= target - 64) return document;
    chars = Math.floor(chars * (1 + (target - 24 - tokens) / tokens));
  }
  throw new Error(`${length}: could not size a prose document to ${target} tokens`);
}

async function conversationCell(ctx: ConversationContext, client: EngineClient, policy: string, document: ProseDocument): Promise<ConversationCell> {
  const [firstQuestion, ...rest] = document.questions;
  const followQuestions = rest.slice(0, FOLLOW_UPS);
  const firstMessages = documentMessage(document, firstQuestion!.question);
  // cold: nothing of an earlier cell is reused
  const first = await ask(ctx, client, policy, firstMessages, firstQuestion!, false);
  const step = (what: string, turn: ConversationTurn) =>
    ctx.progress.step(prefillCost(turn.prefillTokens), turn.ttftMs, `${document.length} ${policy} ${what}: TTFT ${(turn.ttftMs / 1000).toFixed(2)} s, ${turn.reusedTokens} reused, ${turn.correct ? 'correct' : 'wrong'}`);
  step('first question', first);
  let messages: ChatMessage[] = [...firstMessages, { role: 'assistant', content: first.answer }];
  const reusedTurns: ConversationTurn[] = [];
  for (const question of followQuestions) {
    messages = [...messages, { role: 'user', content: question.question }];
    const turn = await ask(ctx, client, policy, messages, question, true);
    step(`follow-up ${reusedTurns.length + 1}`, turn);
    reusedTurns.push(turn);
    messages = [...messages, { role: 'assistant', content: turn.answer }];
  }
  // the same follow-up prompts, read whole again under the same policy
  const followUps: FollowUpPair[] = [];
  let prefix: ChatMessage[] = [...firstMessages, { role: 'assistant', content: first.answer }];
  for (const [index, question] of followQuestions.entries()) {
    const reused = reusedTurns[index]!;
    const prompt = [...prefix, { role: 'user' as const, content: question.question }];
    const reread = await ask(ctx, client, policy, prompt, question, false);
    step(`follow-up ${index + 1} re-read`, reread);
    followUps.push({ index, reused, reread, sameAnswer: normalize(reused.answer) === normalize(reread.answer) });
    prefix = [...prompt, { role: 'assistant', content: reused.answer }];
  }
  let afterPause: ConversationCell['afterPause'] = null;
  if (first.next === 'reviving' && followQuestions[0]) {
    const again = await ask(ctx, client, policy, firstMessages, firstQuestion!, false);
    const pauseMs = Math.max(1000, Math.round(again.ttftMs));
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    const turn = await ask(ctx, client, policy, [...firstMessages, { role: 'assistant', content: again.answer }, { role: 'user', content: followQuestions[0].question }], followQuestions[0], true);
    step(`follow-up 1 after a ${(pauseMs / 1000).toFixed(1)} s pause`, turn);
    afterPause = { pauseMs, turn };
  }
  return { policy, length: document.length, first, followUps, afterPause };
}

export async function runConversationBench(ctx: ConversationContext): Promise<{ cells: ConversationCell[]; documents: Array<{ length: number; sourceId: string; promptTokens: number }>; buildId: string }> {
  const cells: ConversationCell[] = [];
  const documents: Array<{ length: number; sourceId: string; promptTokens: number }> = [];
  for (const length of ctx.lengths) ctx.progress.plan(ctx.policies.length * (2 + FOLLOW_UPS) * prefillCost(length));
  const client = await EngineClient.start({ build: 'patched' });
  try {
    for (const length of ctx.lengths) {
      await client.loadModel({ path: ctx.modelPath, contextSize: length });
      const document = await sizedDocument(client, length);
      for (const policy of ctx.policies) {
        if (ctx.isStopping()) throw new Error('stopped');
        const cell = await conversationCell(ctx, client, policy, document);
        if (!documents.some((d) => d.length === length)) documents.push({ length, sourceId: document.sourceId, promptTokens: cell.first.promptTokens });
        cells.push(cell);
      }
    }
    return { cells, documents, buildId: client.build.id };
  } finally {
    await client.close(3000).catch(() => client.kill());
  }
}
