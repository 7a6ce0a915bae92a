// Fidelity to full KV, teacher-forced: the stock build writes a greedy continuation of the
// fidelity prompt; then every row evaluates the prompt followed by exactly those tokens, and its
// next-token distributions are compared with the stock build's, position by position.
import type { EngineClient } from '../../src-main/engine/engineClient.js';
import type { ChatMessage } from '../../src-common/engineTypes.js';
import type { PolicyProbeRequest } from './availability.js';
import { argmax } from './divergence.js';
import { commonPrefix, commonSuffix } from '../../src-main/models/tokenSpans.js';

export interface FidelityReference {
  /** The stock build's greedy continuation (full KV, flash attention off). */
  continuation: string;
  /** Its tokens: what every row is forced through. */
  follow: number[];
  promptTokens: number;
  /** Stock logits after the prompt and after each forced token. */
  logits: Float32Array[];
  /**
   * Positions where the stock build's top token is the forced one. All of them when the text
   * re-tokenizes into the tokens that were generated; fewer means the forced sequence is a close
   * re-tokenization, still the same text.
   */
  selfConsistent: number;
}

interface TemplateFrame {
  /** Tokens the template puts before and after a one-message chat's text. */
  before: number[];
  after: number[];
}

const frames = new WeakMap<EngineClient, Promise<TemplateFrame>>();

async function renderOneMessage(client: EngineClient, content: string): Promise<number[]> {
  return (await client.probeLogits({ messages: [{ role: 'user', content }] })).promptTokens;
}

/** The template's own tokens around a message, found by rendering two different one-letter messages. */
function templateFrame(client: EngineClient): Promise<TemplateFrame> {
  let frame = frames.get(client);
  if (!frame) {
    frame = (async () => {
      const a = await renderOneMessage(client, 'a');
      const b = await renderOneMessage(client, 'b');
      return { before: a.slice(0, commonPrefix(a, b)), after: a.slice(a.length - commonSuffix(a, b)) };
    })();
    frames.set(client, frame);
  }
  return frame;
}

/**
 * Tokens of a text on the engine's tokenizer. The engine has no tokenize call; a probe of a one-
 * message chat returns the rendered prompt's tokens, and the template's frame is cut off.
 */
export async function tokenize(client: EngineClient, text: string): Promise<number[]> {
  const frame = await templateFrame(client);
  const full = await renderOneMessage(client, text);
  if (commonPrefix(frame.before, full) < frame.before.length || commonSuffix(frame.after, full) < frame.after.length) {
    throw new Error('the chat template changed the text around the message; cannot isolate its tokens');
  }
  return full.slice(frame.before.length, full.length - frame.after.length);
}

/** Logits after the prompt and after each forced token, with the row's policy passed through. */
export async function probeRow(client: EngineClient, messages: ChatMessage[], follow: number[], policy: string): Promise<Float32Array[]> {
  const request: PolicyProbeRequest = { messages, follow, policy };
  return (await client.probeLogits(request)).logits;
}

export async function buildReference(client: EngineClient, messages: ChatMessage[], tokens: number): Promise<FidelityReference> {
  const { result } = client.runTurn({ messages, sampling: { temperature: 0, topP: 1, maxTokens: tokens }, policy: 'full', cachePrompt: false }, () => {});
  const { answer, metrics, stopReason } = await result;
  if (stopReason === 'cancelled') throw new Error('the reference turn was cancelled');
  // a continuation that ended early (end of turn) is shorter; the report gives the count
  const follow = (await tokenize(client, answer)).slice(0, tokens);
  const logits = await probeRow(client, messages, follow, 'full');
  const selfConsistent = follow.filter((token, i) => logits[i] !== undefined && argmax(logits[i] as Float32Array) === token).length;
  return { continuation: answer, follow, promptTokens: metrics.promptTokens, logits, selfConsistent };
}
