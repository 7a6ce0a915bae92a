// `npm run bench -- --auto` (issue 15): auto's choice against every fixed policy that fits, on
// real-prose questions and on synthetic pass keys (where SmolLM2's answers vary enough to rank
// policies) at each length under three memory limits: ample, tight (a full f16 cache
// does not fit, an 8-bit one does) and very tight (only eviction fits). Each fixed policy runs
// once per question (what it answers does not depend on the limit, only whether it fits, which
// the engine's own prediction says); auto is planned once per question and limit, with the memory
// stated as `sift ask --free-ram` states it and the frontier the app would use (this model's
// shipped one), and runs unless it chose exactly a fixed policy already run on that question
// (greedy decoding: the same policy gives the same answer). Each length's results are stored in
// docs/bench/auto-<length>.json, so a length measured in one run and another length in a later
// one make one section (autoSection.ts).
import { EngineClient } from '../../src-main/engine/engineClient.js';
import { calibrationCases, DEFAULT_FRONTIER } from '../../src-main/models/frontierCalibration.js';
import { readShippedFrontiers } from '../../src-main/models/modelFrontiers.js';
import { answerMatches, normalizeAnswer } from '../../src-main/models/proseCases.js';
import type { ChatMessage, StatedMemory, TurnRequest } from '../../src-common/engineTypes.js';
import { nearestFrontier, type ModelFrontier } from '../../src-common/policy/frontier.js';
import { passkeyPrompt } from '../helpers/passkey.js';
import { testModelPath } from '../helpers/testModel.js';
import { identifyModel } from './modelIdentity.js';
import type { BenchOptions } from './options.js';
import { describeMachine } from './machine.js';
import { todayUtc } from '../../scripts/load/benchmarksSection.js';
import { ANSWER_TOKENS, AUTO_FIXED, AUTO_LIMITS, AUTO_TASKS, saveAutoLength, writeAutoSection, type AutoLengthRun, type AutoLimit, type AutoOutcome, type AutoTask, type AutoTaskRun } from './autoSection.js';

/** One question of either task: its chat and how an answer is judged right. */
interface Question {
  messages: ChatMessage[];
  isRight(answer: string): boolean;
}

async function questionsFor(engine: EngineClient, task: AutoTask, length: number, depths: number): Promise<Question[]> {
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

function request(question: Question, policy: string, memory: StatedMemory | null, frontiers: ModelFrontier[]): TurnRequest {
  return {
    messages: question.messages,
    sampling: { temperature: 0, topP: 1, maxTokens: ANSWER_TOKENS },
    policy,
    cachePrompt: false,
    ...(memory ? { memory } : {}),
    ...(frontiers.length ? { frontiers } : {}),
  };
}

async function ask(engine: EngineClient, question: Question, policy: string, memory: StatedMemory | null, frontiers: ModelFrontier[]): Promise<AutoOutcome> {
  const { answer, metrics } = await engine.runTurn(request(question, policy, memory, frontiers), () => {}).result;
  const ran = metrics.selection?.policy ?? policy;
  return { policy: ran, correct: question.isRight(answer), answer: normalizeAnswer(answer), ttftMs: metrics.ttftMs, kvBytesPeak: metrics.kvBytesPeak, reused: false };
}

/** Free RAM for each limit, from the engine's predicted peaks of this prompt (margin stated as 0). */
async function limitsFor(engine: EngineClient, question: Question): Promise<Record<AutoLimit, number>> {
  const peak = async (policy: string) => (await engine.planTurn(request(question, policy, null, []))).predictedPeakBytes;
  const [full, eightBit, evicting] = [await peak('full'), await peak('kv:type=q8_0'), await peak('vatp:budget=0.2,pool=7+kv:type=q8_0')];
  return { ample: 64 * 1024 ** 3, tight: Math.round((full + eightBit) / 2), 'very tight': Math.round(evicting + 0.25 * (eightBit - evicting)) };
}

async function measureTask(engine: EngineClient, task: AutoTask, length: number, depths: number, frontiers: ModelFrontier[]): Promise<AutoTaskRun> {
  const questions = await questionsFor(engine, task, length, depths);
  const run: AutoTaskRun = {
    task,
    questions: questions.length,
    fixed: Object.fromEntries(AUTO_FIXED.map((p) => [p, []])),
    fits: Object.fromEntries(AUTO_FIXED.map((p) => [p, { ample: true, tight: true, 'very tight': true }])),
    auto: { ample: [], tight: [], 'very tight': [] },
    limitBytes: { ample: [], tight: [], 'very tight': [] },
  };
  for (const [i, question] of questions.entries()) {
    const limits = await limitsFor(engine, question);
    for (const policy of AUTO_FIXED) {
      for (const limit of AUTO_LIMITS) {
        const preview = await engine.planTurn(request(question, policy, { freeRamBytes: limits[limit], marginBytes: 0 }, []));
        run.fits[policy]![limit] &&= preview.fits;
      }
      run.fixed[policy]!.push(await ask(engine, question, policy, null, []));
    }
    for (const limit of AUTO_LIMITS) {
      const memory = { freeRamBytes: limits[limit], marginBytes: 0 };
      run.limitBytes[limit].push(limits[limit]);
      const planned = (await engine.planTurn(request(question, 'auto', memory, frontiers))).policy;
      const already = run.fixed[planned]?.[i];
      run.auto[limit].push(already ? { ...already, reused: true } : await ask(engine, question, 'auto', memory, frontiers));
    }
    process.stderr.write(`[bench] auto ${length} tokens, ${task}: question ${i + 1}/${questions.length}\n`);
  }
  return run;
}

/** What the run's auto read at this length: the shipped frontier measured nearest it. */
function frontierRead(frontiers: ModelFrontier[], length: number): AutoLengthRun['frontier'] {
  const frontier = nearestFrontier(frontiers, length);
  return frontier ? { questions: frontier.questions, measuredAt: frontier.measuredAt, promptTokens: frontier.promptTokens } : null;
}

export async function runAutoBench(options: BenchOptions): Promise<void> {
  const lengths = options.lengths ?? (options.mode === 'quick' ? [2048] : [2048, 4096, 8192]);
  const depths = options.depths ?? (options.mode === 'quick' ? 4 : 8);
  const identity = await identifyModel(testModelPath(options.model));
  const frontiers = readShippedFrontiers(identity.sha256);
  const engine = await EngineClient.start({ build: 'patched' });
  const machine = describeMachine();
  try {
    await engine.loadModel({ path: identity.path, contextSize: Math.max(...lengths) + ANSWER_TOKENS + 64 });
    for (const length of lengths) {
      const tasks: AutoTaskRun[] = [];
      for (const task of AUTO_TASKS) tasks.push(await measureTask(engine, task, length, depths, frontiers));
      const run: AutoLengthRun = {
        task: 'auto',
        length,
        depths,
        command: options.command,
        date: todayUtc(),
        machine,
        model: identity.name,
        frontier: frontierRead(frontiers, length),
        tasks,
      };
      saveAutoLength(options.outputDir, run);
    }
  } finally {
    await engine.close();
  }
  const { file, section } = writeAutoSection(options.outputDir);
  process.stderr.write(`[bench] wrote the auto section of ${file}\n`);
  process.stdout.write(`${section}\n`);
}
