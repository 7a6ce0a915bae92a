// The benchmark's prompts: passkey documents sized to a token count on this model's own
// tokenizer and chat template, one per (length, depth), and a few fidelity prompts per length.
// Every row sees exactly the same messages.
import type { ChatMessage } from '../../src-common/engineTypes.js';
import { passkeyPrompt } from '../helpers/passkey.js';

// the wording SmolLM2-135M answers (test/helpers/passkey.ts): `${document}\n\n${question}`
const FIDELITY_QUESTION =
  'What is the pass key number? Explain where it appears in the document and what the rest of the document says.';
/** passkeyDocument sizes its filler in blocks of this many nominal tokens. */
const NOMINAL_TOKENS_PER_BLOCK = 22;

export interface PasskeyCase {
  length: number;
  depthIndex: number;
  depth: number;
  passkey: string;
  messages: ChatMessage[];
}

/** Prompt tokens as a function of filler blocks: exactly linear, one fit per question. */
export interface FillerFit {
  tokensPerBlock: number;
  /** Tokens that are not filler (template, needle, question), per question. */
  passkeyOverhead: number;
  fidelityOverhead: number;
  /** The follow-up document's first turn (two needles, the pass key question). */
  followUpOverhead: number;
}

/**
 * A follow-up case: one document with two needles; turn 1 asks for the pass key, turn 2 (the
 * conversation so far plus a new question) asks for the door code.
 */
export interface FollowUpCase {
  length: number;
  index: number;
  passkeyDepth: number;
  doorDepth: number;
  passkey: string;
  doorCode: string;
  /** Turn 1's messages; turn 2 appends the row's own answer and FOLLOW_UP_QUESTION. */
  messages: ChatMessage[];
}

// the same filler as test/helpers/passkey.ts, so both needles sit in the text the passkey rows use
const FILLER = 'The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. ';
const PASSKEY_QUESTION = 'What is the pass key number?';
export const FOLLOW_UP_QUESTION = 'What is the door code number?';
/**
 * The follow-up document is this much shorter than a passkey prompt of the same length: turn 2
 * adds the first answer (at most 24 tokens), the second question and the template's turn markers,
 * and must still fit the context with its own answer.
 */
const FOLLOW_UP_RESERVE = 64;

function userMessage(document: string, question: string): ChatMessage[] {
  return [{ role: 'user', content: `${document}\n\n${question}` }];
}

function passkeyMessages(blocks: number, depth: number, passkey: string): ChatMessage[] {
  const task = passkeyPrompt(blocks * NOMINAL_TOKENS_PER_BLOCK, depth, passkey);
  return userMessage(task.document, task.question);
}

export interface FidelityCase {
  index: number;
  /** Where the needle sits, a fraction of the document. */
  depth: number;
  messages: ChatMessage[];
}

function fidelityMessages(blocks: number, passkey: string, depth = 0.5): ChatMessage[] {
  const task = passkeyPrompt(blocks * NOMINAL_TOKENS_PER_BLOCK, depth, passkey);
  return userMessage(task.document, FIDELITY_QUESTION);
}

function followUpMessages(blocks: number, passkeyDepth: number, doorDepth: number, passkey: string, doorCode: string): ChatMessage[] {
  const passkeyAt = Math.min(blocks, Math.max(0, Math.round(blocks * passkeyDepth)));
  const doorAt = Math.min(blocks, Math.max(0, Math.round(blocks * doorDepth)));
  const needles = new Map<number, string[]>();
  const add = (at: number, needle: string) => needles.set(at, [...(needles.get(at) ?? []), needle]);
  add(passkeyAt, `The pass key is ${passkey}. Remember it. ${passkey} is the pass key. `);
  add(doorAt, `The door code is ${doorCode}. Remember it. ${doorCode} is the door code. `);
  let document = '';
  for (let block = 0; block <= blocks; block++) {
    document += (needles.get(block) ?? []).join('');
    if (block < blocks) document += FILLER;
  }
  return userMessage(document, PASSKEY_QUESTION);
}

/** A five-digit key that differs per case and is the same on every run. */
export function passkeyFor(length: number, depthIndex: number): string {
  // splitmix-style integer hash: keys look random, never start with 0
  let x = (length * 7919 + depthIndex * 104_729 + 0x9e3779b9) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  return String(10_000 + (x % 90_000));
}

/** The key, standing alone (not inside a longer number), anywhere in the answer. */
export function answerHasPasskey(answer: string, passkey: string): boolean {
  return new RegExp(`(?<!\\d)${passkey}(?!\\d)`).test(answer);
}

/** Measures tokens per filler block on short prompts (cheap), so long prompts need no trial run. */
export async function fitFiller(countTokens: (messages: ChatMessage[]) => Promise<number>): Promise<FillerFit> {
  const few = 4;
  const many = 16;
  const key = passkeyFor(0, 0);
  const atFew = await countTokens(passkeyMessages(few, 0.5, key));
  const atMany = await countTokens(passkeyMessages(many, 0.5, key));
  const tokensPerBlock = (atMany - atFew) / (many - few);
  const fidelityAtFew = await countTokens(fidelityMessages(few, key));
  const followUpAtFew = await countTokens(followUpMessages(few, 0.25, 0.75, key, passkeyFor(0, 1)));
  return {
    tokensPerBlock,
    passkeyOverhead: atFew - few * tokensPerBlock,
    fidelityOverhead: fidelityAtFew - few * tokensPerBlock,
    followUpOverhead: followUpAtFew - few * tokensPerBlock,
  };
}

function blocksFor(targetTokens: number, overhead: number, fit: FillerFit): number {
  return Math.max(1, Math.floor((targetTokens - overhead) / fit.tokensPerBlock));
}

export function passkeyCases(length: number, targetTokens: number, depths: readonly number[], fit: FillerFit): PasskeyCase[] {
  const blocks = blocksFor(targetTokens, fit.passkeyOverhead, fit);
  return depths.map((depth, depthIndex) => {
    const passkey = passkeyFor(length, depthIndex);
    return { length, depthIndex, depth, passkey, messages: passkeyMessages(blocks, depth, passkey) };
  });
}

/**
 * `count` fidelity prompts: the first has its needle halfway (the single prompt earlier runs used,
 * so cached references stay valid), the others step a 1/count of the document on from it.
 */
export function fidelityCases(length: number, targetTokens: number, count: number, fit: FillerFit): FidelityCase[] {
  const blocks = blocksFor(targetTokens, fit.fidelityOverhead, fit);
  return Array.from({ length: count }, (_, index) => {
    const depth = (0.5 + index / count) % 1;
    return { index, depth, messages: fidelityMessages(blocks, passkeyFor(length, 999 - index), depth) };
  });
}

/**
 * `count` follow-up cases: the pass key at depths spread over the document, the door code half a
 * document away from it (wrapping), so the two needles are never next to each other.
 */
export function followUpCases(length: number, targetTokens: number, count: number, fit: FillerFit): FollowUpCase[] {
  const blocks = blocksFor(targetTokens - FOLLOW_UP_RESERVE, fit.followUpOverhead, fit);
  return Array.from({ length: count }, (_, index) => {
    const passkeyDepth = (index + 0.5) / count;
    const doorDepth = (passkeyDepth + 0.5) % 1;
    // keys of their own: depth indices past any passkey case's
    const passkey = passkeyFor(length, 500 + 2 * index);
    const doorCode = passkeyFor(length, 501 + 2 * index);
    return { length, index, passkeyDepth, doorDepth, passkey, doorCode, messages: followUpMessages(blocks, passkeyDepth, doorDepth, passkey, doorCode) };
  });
}
