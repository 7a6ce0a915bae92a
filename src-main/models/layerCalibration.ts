// SimLayerKV calibration on the real model (sift calibrate): score every layer's laziness on a few
// built-in documents, then try growing sets of the laziest layers, teacher-forced against full KV,
// and keep the largest set whose top-1 agreement holds. The choice itself is pure
// (src-common/policy/calibration.ts); this module runs the probes.
import { readFile } from 'node:fs/promises';
import type { EngineClient } from '../engine/engineClient.js';
import { type ChatMessage } from '../../src-common/engineTypes.js';
import { EngineError } from '../../src-engine/engineError.js';
import type { AttentionProbeResult } from '../../src-engine/attentionProbe.js';
import {
  argmax,
  averageScores,
  candidateCounts,
  candidatePolicy,
  chooseTrimmedLayers,
  topOneAgreement,
  type CalibratedLayerProfile,
} from '../../src-common/policy/calibration.js';
import { layerLaziness } from '../../src-common/policy/simLayerKvLayers.js';
import { composeUserMessage } from '../session/documentPrompt.js';
import { commonPrefix, commonSuffix } from './tokenSpans.js';

export type CalibrationEngine = Pick<EngineClient, 'probeAttention' | 'probeLogits' | 'runTurn'>;

export interface CalibrationDocument {
  id: string;
  title: string;
  text: string;
  question: string;
}

export interface CalibrationOptions {
  /** Longest prompt, in tokens (chat template included); longer documents are cut. */
  tokens: number;
  /** Recent tokens a trimmed layer keeps, and the first ones (SimLayerKV's sinks). */
  window: number;
  sink: number;
  /** Prompt queries whose attention is scored. */
  lastW: number;
  /** Teacher-forced tokens of full KV's greedy answer compared per document. */
  forced: number;
  minAgreement: number;
  /** Trimmed layers added per tried set (default: a tenth of the depth). */
  step?: number;
}

export const DEFAULT_CALIBRATION: Omit<CalibrationOptions, 'step'> = {
  tokens: 2048,
  window: 512,
  sink: 4,
  lastW: 32,
  forced: 32,
  minAgreement: 0.9,
};

/** The built-in documents (resources/calibration), in index order. */
export async function loadCalibrationDocuments(dir = new URL('../../resources/calibration/', import.meta.url)): Promise<CalibrationDocument[]> {
  const index = JSON.parse(await readFile(new URL('index.json', dir), 'utf8')) as {
    documents: Array<{ id: string; file: string; title: string; question: string }>;
  };
  return Promise.all(
    index.documents.map(async (d) => ({ id: d.id, title: d.title, question: d.question, text: (await readFile(new URL(d.file, dir), 'utf8')).trim() })),
  );
}

function promptFor(document: CalibrationDocument, text: string): ChatMessage[] {
  return [{ role: 'user', content: composeUserMessage(document.question, [{ name: document.title, text }]) }];
}

/** The prompt length a PROMPT_TOO_LONG error reports, or NaN if it does not say. */
function tooLongBy(error: unknown): number | null {
  if (!(error instanceof EngineError) || error.code !== 'PROMPT_TOO_LONG') return null;
  const match = /prompt is (\d+) tokens/.exec(error.message);
  return match ? Number(match[1]) : Number.NaN;
}

/** The text cut at a word boundary so the whole prompt should come to about `target` tokens. */
function cutText(document: CalibrationDocument, text: string, promptTokens: number, target: number): string {
  // the question and the chat template stay: scale the characters by tokens per character
  const extra = document.question.length + 64;
  const tokensPerChar = Number.isFinite(promptTokens) ? promptTokens / (text.length + extra) : 0;
  const chars = tokensPerChar > 0 ? Math.floor((target * 0.97) / tokensPerChar - extra) : Math.floor(text.length * 0.8);
  const cut = text.slice(0, Math.max(0, Math.min(chars, text.length - 1)));
  const boundary = cut.search(/\s\S*$/);
  return (boundary > 0 ? cut.slice(0, boundary) : cut).trim();
}

/**
 * Attention of the prompt's last queries, with the document cut so the prompt fits `tokens`. An
 * over-long prompt is refused before any work when it exceeds the context; else it is probed,
 * measured and cut once more.
 */
async function scoredPrompt(
  engine: CalibrationEngine,
  document: CalibrationDocument,
  options: CalibrationOptions,
): Promise<{ messages: ChatMessage[]; observed: AttentionProbeResult }> {
  let text = document.text;
  for (let attempt = 0; attempt < 8 && text.length > 0; attempt++) {
    const messages = promptFor(document, text);
    let observed: AttentionProbeResult;
    try {
      observed = await engine.probeAttention({ messages, window: options.lastW });
    } catch (error) {
      const reported = tooLongBy(error);
      if (reported === null) throw error;
      text = cutText(document, text, reported, options.tokens);
      continue;
    }
    if (observed.promptTokens <= options.tokens) return { messages, observed };
    text = cutText(document, text, observed.promptTokens, options.tokens);
  }
  throw new Error(`could not fit calibration document "${document.id}" into ${options.tokens} tokens`);
}

/**
 * Tokens of a text on the model's tokenizer. The engine has no tokenize call; a probe returns the
 * rendered prompt's tokens, and the chat template's tokens around the message (found by rendering
 * two different one-letter messages) are cut off.
 */
export async function tokenizer(engine: Pick<CalibrationEngine, 'probeLogits'>): Promise<(text: string) => Promise<number[]>> {
  const render = async (content: string) => (await engine.probeLogits({ messages: [{ role: 'user', content }] })).promptTokens;
  const a = await render('a');
  const b = await render('b');
  const before = a.slice(0, commonPrefix(a, b));
  const after = a.slice(a.length - commonSuffix(a, b));
  return async (text) => {
    const full = await render(text);
    if (commonPrefix(before, full) < before.length || commonSuffix(after, full) < after.length) {
      throw new Error("this model's chat template changes the text around a message; cannot isolate the answer's tokens");
    }
    return full.slice(before.length, full.length - after.length);
  };
}

interface PreparedDocument {
  id: string;
  messages: ChatMessage[];
  promptTokens: number;
  /** full KV's greedy answer, forced; and full KV's top token at each position. */
  follow: number[];
  reference: number[];
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

export async function calibrateLayers(
  engine: CalibrationEngine,
  documents: readonly CalibrationDocument[],
  options: CalibrationOptions,
  progress: (line: string) => void = () => {},
  /** After each probe or turn: how many, of the most there can be (the search may stop early, and then jumps to the end). */
  onStep: (done: number, total: number) => void = () => {},
): Promise<CalibratedLayerProfile> {
  if (documents.length === 0) throw new Error('no calibration documents');
  const { sink, window, lastW, forced } = options;
  // a score and a reference per document, then a probe per document for each tried set
  let total = 2 * documents.length;
  let done = 0;
  const step = () => onStep(++done, total);

  const scores: number[][] = [];
  const prompts: Array<{ document: CalibrationDocument; messages: ChatMessage[]; promptTokens: number }> = [];
  for (const [i, document] of documents.entries()) {
    const started = Date.now();
    const { messages, observed } = await scoredPrompt(engine, document, options);
    if (observed.promptTokens <= sink + window) {
      throw new Error(
        `calibration prompt "${document.id}" is ${observed.promptTokens} tokens, all within the first ${sink} and last ${window}: ` +
          'nothing to measure. Use a smaller --window or a larger --tokens.',
      );
    }
    scores.push(observed.layers.map((layer) => layerLaziness(layer, observed.positions, observed.promptTokens, sink, window)));
    prompts.push({ document, messages, promptTokens: observed.promptTokens });
    if (i === 0) total += documents.length * candidateCounts(observed.layers.map((_, layer) => layer), options.step).length;
    step();
    progress(`scoring layers: document ${i + 1}/${documents.length} (${observed.promptTokens} tokens, ${seconds(started)})`);
  }
  const meanScores = averageScores(scores);

  const tokenize = await tokenizer(engine);
  const prepared: PreparedDocument[] = [];
  for (const [i, prompt] of prompts.entries()) {
    const started = Date.now();
    const { result } = engine.runTurn(
      { messages: prompt.messages, sampling: { temperature: 0, topP: 1, maxTokens: forced }, policy: 'full' },
      () => {},
    );
    const { answer } = await result;
    const follow = (await tokenize(answer)).slice(0, forced);
    const full = await engine.probeLogits({ messages: prompt.messages, follow, policy: 'full' });
    prepared.push({ id: prompt.document.id, messages: prompt.messages, promptTokens: prompt.promptTokens, follow, reference: full.logits.map(argmax) });
    step();
    progress(`full KV reference: document ${i + 1}/${prompts.length} (${follow.length} tokens, ${seconds(started)})`);
  }

  let tryStarted = Date.now();
  const choice = await chooseTrimmedLayers(
    meanScores,
    async (layers) => {
      const agreement: number[] = [];
      for (const document of prepared) {
        const trimmed = await engine.probeLogits({ messages: document.messages, follow: document.follow, policy: candidatePolicy(layers, sink, window) });
        agreement.push(topOneAgreement(document.reference, trimmed.logits));
        step();
      }
      return agreement;
    },
    {
      minAgreement: options.minAgreement,
      ...(options.step ? { step: options.step } : {}),
      onTry: () => {
        tryStarted = Date.now();
      },
      onResult: (point) => {
        const verdict = point.agreement >= options.minAgreement ? '' : `, below ${percent(options.minAgreement)}: stop`;
        progress(`trying ${point.count} trimmed layers: top-1 ${percent(point.agreement)} (${seconds(tryStarted)}${verdict})`);
      },
    },
  );

  onStep(total, total);
  return {
    scores: meanScores,
    delta: choice.delta,
    trimmedLayers: choice.trimmedLayers,
    sink,
    window,
    threshold: options.minAgreement,
    agreement: choice.agreement,
    fidelity: choice.fidelity,
    lastW,
    forced,
    documents: prepared.map((d) => ({
      id: d.id,
      promptTokens: d.promptTokens,
      positions: d.reference.length,
      selfConsistent: d.follow.filter((token, i) => d.reference[i] === token).length,
    })),
    measuredAt: new Date().toISOString(),
  };
}

export function percent(value: number): string {
  return `${(value * 100).toFixed(1)}%`;
}
