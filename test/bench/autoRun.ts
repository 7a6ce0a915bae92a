// `npm run bench -- --auto` (issue 15): auto's choice against every fixed policy that fits, on
// real-prose questions and on synthetic pass keys (where SmolLM2's answers vary enough to rank
// policies) at each length under three memory limits: ample, tight (a full f16 cache
// does not fit, an 8-bit one does) and very tight (only eviction fits). Each fixed policy runs
// once per question (what it answers does not depend on the limit, only whether it fits, which
// the engine's own prediction says); auto runs once per question and limit, with the memory
// stated as `sift ask --free-ram` states it and the frontier the app would use (this model's
// shipped one). The regret: the best fitting fixed policy's correct answers minus auto's (ties
// broken by answers equal to full KV's, then TTFT), and auto's TTFT against that policy's. Writes its own section of docs/BENCHMARKS.md.
import { EngineClient } from '../../src-main/engine/engineClient.js';
import { calibrationCases, DEFAULT_FRONTIER } from '../../src-main/models/frontierCalibration.js';
import { readShippedFrontier } from '../../src-main/models/modelFrontiers.js';
import { answerMatches, normalizeAnswer } from '../../src-main/models/proseCases.js';
import type { ChatMessage, StatedMemory, TurnMetrics } from '../../src-common/engineTypes.js';
import { passkeyPrompt } from '../helpers/passkey.js';
import type { ModelFrontier } from '../../src-common/policy/frontier.js';
import { formatBytes } from '../../src-common/format.js';
import { machineLine, todayUtc, writeBenchmarksSection } from '../../scripts/load/benchmarksSection.js';
import { testModelPath } from '../helpers/testModel.js';
import { identifyModel } from './modelIdentity.js';
import type { BenchOptions } from './options.js';

const TITLE = 'Policy auto against every fixed policy that fits';
const ANSWER_TOKENS = 32;
const FIXED = ['full', 'kv:type=q8_0', 'lazy', 'lazy+kv:type=q8_0', 'vatp:budget=0.5,pool=7+kv:type=q8_0', 'vatp:budget=0.2,pool=7+kv:type=q8_0'];
const LIMITS = ['ample', 'tight', 'very tight'] as const;
const TASKS: readonly Task[] = ['prose', 'pass-key (synthetic)'];
type Limit = (typeof LIMITS)[number];

/** One question of either task: its chat and how an answer is judged right. */
interface Question {
  messages: ChatMessage[];
  isRight(answer: string): boolean;
}

type Task = 'prose' | 'pass-key (synthetic)';

async function questionsFor(engine: EngineClient, task: Task, length: number, depths: number): Promise<Question[]> {
  if (task === 'prose') {
    const cases = await calibrationCases(engine, { ...DEFAULT_FRONTIER, tokens: length, depths, seed: 'sift-auto-bench-1' });
    return cases.map((c) => ({ messages: c.messages, isRight: (answer) => answerMatches(answer, c.accept) }));
  }
  // the pass-key prompt runs a little over its nominal length: sized a tenth short so it fits the context
  return Array.from({ length: depths + 1 }, (_, k) => {
    const prompt = passkeyPrompt(Math.round(length * 0.9), (k + 0.5) / (depths + 1), String(51_000 + 977 * k + length));
    return { messages: [{ role: 'user' as const, content: `${prompt.document}\n\n${prompt.question}` }], isRight: (answer: string) => answer.includes(prompt.passkey) };
  });
}

interface Outcome {
  policy: string;
  correct: boolean;
  answer: string;
  ttftMs: number;
  kvBytesPeak: number | null;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length === 0 ? Number.NaN : sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function ask(engine: EngineClient, task: Question, policy: string, memory: StatedMemory | null, frontier: ModelFrontier | null): Promise<{ outcome: Outcome; metrics: TurnMetrics }> {
  const request = {
    messages: task.messages,
    sampling: { temperature: 0, topP: 1, maxTokens: ANSWER_TOKENS },
    policy,
    cachePrompt: false,
    ...(memory ? { memory } : {}),
    ...(frontier ? { frontier } : {}),
  };
  const { answer, metrics } = await engine.runTurn(request, () => {}).result;
  const ran = metrics.selection?.policy ?? policy;
  return { outcome: { policy: ran, correct: task.isRight(answer), answer: normalizeAnswer(answer), ttftMs: metrics.ttftMs, kvBytesPeak: metrics.kvBytesPeak }, metrics };
}

/** Free RAM for each limit, from the engine's predicted peaks of this prompt (margin stated as 0). */
async function limitsFor(engine: EngineClient, task: Question): Promise<Record<Limit, number>> {
  const peak = async (policy: string) => (await engine.planTurn({ messages: task.messages, sampling: { temperature: 0, topP: 1, maxTokens: ANSWER_TOKENS }, policy })).predictedPeakBytes;
  const [full, eightBit, evicting] = [await peak('full'), await peak('kv:type=q8_0'), await peak('vatp:budget=0.2,pool=7+kv:type=q8_0')];
  return { ample: 64 * 1024 ** 3, tight: Math.round((full + eightBit) / 2), 'very tight': Math.round(evicting + 0.25 * (eightBit - evicting)) };
}

export async function runAutoBench(options: BenchOptions): Promise<void> {
  const lengths = options.lengths ?? (options.mode === 'quick' ? [2048] : [2048, 4096, 8192]);
  const depths = options.mode === 'quick' ? 4 : 8;
  const identity = await identifyModel(testModelPath(options.model));
  const frontier = readShippedFrontier(identity.sha256);
  const engine = await EngineClient.start({ build: 'patched' });
  const rows: string[] = [];
  try {
    await engine.loadModel({ path: identity.path, contextSize: Math.max(...lengths) + ANSWER_TOKENS + 64 });
    for (const length of lengths) for (const taskName of TASKS) {
      const cases = await questionsFor(engine, taskName, length, depths);
      const fixed = new Map<string, Outcome[]>(FIXED.map((p) => [p, []]));
      const fits = new Map<string, Record<Limit, boolean>>(FIXED.map((p) => [p, { ample: true, tight: true, 'very tight': true }]));
      const auto = new Map<Limit, Outcome[]>(LIMITS.map((l) => [l, []]));
      const limitBytes: Record<Limit, number[]> = { ample: [], tight: [], 'very tight': [] };
      for (const [i, task] of cases.entries()) {
        const limits = await limitsFor(engine, task);
        for (const policy of FIXED) {
          for (const limit of LIMITS) {
            const preview = await engine.planTurn({ messages: task.messages, sampling: { temperature: 0, topP: 1, maxTokens: ANSWER_TOKENS }, policy, memory: { freeRamBytes: limits[limit], marginBytes: 0 } });
            fits.get(policy)![limit] &&= preview.fits;
          }
          fixed.get(policy)!.push((await ask(engine, task, policy, null, null)).outcome);
        }
        for (const limit of LIMITS) {
          limitBytes[limit].push(limits[limit]);
          auto.get(limit)!.push((await ask(engine, task, 'auto', { freeRamBytes: limits[limit], marginBytes: 0 }, frontier)).outcome);
        }
        process.stderr.write(`[bench] auto ${length} tokens, ${taskName}: question ${i + 1}/${cases.length}\n`);
      }
      const full = fixed.get('full')!;
      for (const limit of LIMITS) {
        const fitting = FIXED.filter((p) => fits.get(p)![limit]);
        const score = (outcomes: Outcome[]) => outcomes.filter((o) => o.correct).length;
        const ttft = (outcomes: Outcome[]) => median(outcomes.map((o) => o.ttftMs));
        const sameAsFull = (outcomes: Outcome[]) => outcomes.filter((o, q) => o.answer === full[q]!.answer).length;
        const best = [...fitting].sort(
          (a, b) => score(fixed.get(b)!) - score(fixed.get(a)!) || sameAsFull(fixed.get(b)!) - sameAsFull(fixed.get(a)!) || ttft(fixed.get(a)!) - ttft(fixed.get(b)!),
        )[0];
        const mine = auto.get(limit)!;
        const chosen = [...new Set(mine.map((o) => o.policy))].map((p) => `\`${p}\``).join(', ');
        const same = sameAsFull(mine);
        const bestCell = best ? `\`${best}\`: ${score(fixed.get(best)!)}/${cases.length}, same ${sameAsFull(fixed.get(best)!)}, ${ttft(fixed.get(best)!).toFixed(0)} ms` : 'none fits';
        const regret = best ? `${score(fixed.get(best)!) - score(mine)} answers; TTFT ${(ttft(mine) / ttft(fixed.get(best)!)).toFixed(2)}×` : '—';
        rows.push(
          `| ${length.toLocaleString('en-US')} | ${taskName} | ${limit} (${formatBytes(median(limitBytes[limit]))}) | ${chosen} | ${score(mine)}/${cases.length} | ${same}/${cases.length} | ${ttft(mine).toFixed(0)} | ` +
            `${fitting.map((p) => `\`${p}\` ${score(fixed.get(p)!)}`).join(', ') || 'none'} | ${bestCell} | ${regret} |`,
        );
      }
    }
  } finally {
    await engine.close();
  }
  const section = [
    `## ${todayUtc()} — ${TITLE}`,
    '',
    `Command: \`${options.command}\`. Machine: ${machineLine()}. ${identity.name}, patched build, flash attention off. ` +
      `Tasks: real-prose questions built as \`sift calibrate\` builds them (seed sift-auto-bench-1, ${depths} fact depths per length, one question per fact and a two-passage one per document), and ${depths + 1} synthetic pass-key prompts (test/helpers/passkey.ts) at evenly spread depths; greedy, ${ANSWER_TOKENS} answer tokens, prompt cache off. ` +
      `Auto read ${frontier ? `the frontier Sift ships for this model (${frontier.questions} questions, ${frontier.measuredAt.slice(0, 10)})` : 'no frontier (the model is not calibrated)'}. ` +
      'Memory limits are stated free RAM with no margin, per question from the engine\'s predicted peaks: ample (64 GiB), tight (midway between an 8-bit and a full f16 cache\'s peak), very tight (a quarter of the way from eviction at a fifth of the prompt to an 8-bit cache); the median is shown. ' +
      'A fixed policy fits a limit when the engine predicts it fits for every question. Correct is against the ground truth (the pass key in the answer); same is the normalised answer equal to full KV\'s; the best fitting policy is the one with most correct, then most same, then the lowest median TTFT.',
    '',
    '| prompt tokens | task | limit | auto chose | auto correct | same as full | auto TTFT (ms) | fixed policies that fit, correct | best fitting | regret (best − auto; auto TTFT / best) |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  const file = writeBenchmarksSection(options.outputDir, TITLE, section);
  process.stderr.write(`[bench] wrote the auto section of ${file}\n`);
  process.stdout.write(`${section}\n`);
}
