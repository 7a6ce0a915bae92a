// `npm run bench -- --workers LIST|N` (issue 19): the same turns with the layers split across
// `sift worker` processes and in one process, alternated in pairs so the machine's drift falls on
// both; TTFT and decode tokens/s per length, as the ratio split/single. Writes its own section
// of docs/BENCHMARKS.md (replacing an earlier one).
import { EngineClient } from '../../src-main/engine/engineClient.js';
import { parseWorkerAddress } from '../../src-common/workerAddress.js';
import type { TurnMetrics } from '../../src-common/engineTypes.js';
import { machineLine, todayUtc, writeBenchmarksSection } from '../../scripts/load/benchmarksSection.js';
import { passkeyPrompt } from '../helpers/passkey.js';
import { testModelPath } from '../helpers/testModel.js';
import { startWorker, stopWorker, type RunningWorker } from '../helpers/siftWorker.js';
import type { BenchOptions } from './options.js';

const RUNS = 3;
const ANSWER_TOKENS = 32;
const POLICIES = ['full', 'lazy'];
const TITLE = 'Workers (llama.cpp RPC): split vs one process';

interface Pair {
  length: number;
  policy: string;
  single: TurnMetrics[];
  split: TurnMetrics[];
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function turn(engine: EngineClient, length: number, policy: string, run: number): Promise<TurnMetrics> {
  // a different pass key each run: the prompt cache never carries over
  const task = passkeyPrompt(length, 0.5, String(40_000 + run * 7 + length));
  const request = {
    messages: [{ role: 'user' as const, content: `${task.document}\n\n${task.question}` }],
    sampling: { temperature: 0, topP: 1, maxTokens: ANSWER_TOKENS },
    policy,
    cachePrompt: false,
  };
  return (await engine.runTurn(request, () => {}).result).metrics;
}

export async function runWorkersBench(options: BenchOptions, workers: NonNullable<BenchOptions['workers']>): Promise<void> {
  const started: RunningWorker[] = [];
  const lengths = options.lengths ?? [1024, 4096];
  const contextSize = Math.max(...lengths) + 512;
  try {
    if ('loopback' in workers) for (let i = 0; i < workers.loopback; i++) started.push(await startWorker());
    const addresses = 'loopback' in workers ? started.map((w) => w.address) : workers.addresses;
    // two engines held open at once: the single one, and the split one (each worker serves one)
    const single = await EngineClient.start({ build: 'patched' });
    await single.loadModel({ path: testModelPath(), contextSize });
    const split = await EngineClient.start({ build: 'patched' });
    const added = await split.addWorkers(addresses.map(parseWorkerAddress));
    if (added.skipped.length) throw new Error(added.skipped.join('; '));
    const model = await split.loadModel({ path: testModelPath(), contextSize });
    process.stderr.write(`[bench] ${model.workerSplit?.why ?? 'no split'}\n`);

    const pairs: Pair[] = [];
    for (const length of lengths) {
      for (const policy of POLICIES) {
        const pair: Pair = { length, policy, single: [], split: [] };
        for (let run = 0; run < RUNS; run++) {
          // alternate which goes first, so a warm-up or drift does not favour one side
          const order = run % 2 === 0 ? ([single, split] as const) : ([split, single] as const);
          for (const engine of order) (engine === single ? pair.single : pair.split).push(await turn(engine, length, policy, run));
          process.stderr.write(`[bench] ${length} tokens, ${policy}: run ${run + 1}/${RUNS}\n`);
        }
        pairs.push(pair);
      }
    }
    await single.close();
    await split.close();

    const rows = pairs.map((p) => {
      const ttft = (runs: TurnMetrics[]) => median(runs.map((m) => m.ttftMs));
      const decode = (runs: TurnMetrics[]) => median(runs.map((m) => m.decodeTokensPerSec ?? 0));
      return (
        `| ${p.length.toLocaleString('en-US')} | \`${p.policy}\` | ${ttft(p.single).toFixed(0)} | ${ttft(p.split).toFixed(0)} | ${(ttft(p.split) / ttft(p.single)).toFixed(2)}× ` +
        `| ${decode(p.single).toFixed(1)} | ${decode(p.split).toFixed(1)} | ${(decode(p.split) / decode(p.single)).toFixed(2)}× |`
      );
    });
    const where = 'loopback' in workers ? `${workers.loopback} worker(s) started on this machine's loopback, 1 thread each` : `workers at ${addresses.join(', ')}`;
    const section = [
      `## ${todayUtc()} — ${TITLE}`,
      '',
      `Command: \`${options.command}\`. Machine: ${machineLine()}. SmolLM2-135M Q4_1, patched build, ${where}; ` +
        `${model.workerSplit?.why ?? ''}. Task: the synthetic pass-key prompt (test/helpers/passkey.ts), greedy; the split changes where layers run, not what is computed. Median of ${RUNS} alternated runs per row, ${ANSWER_TOKENS} answer tokens, prompt cache off.`,
      '',
      '| prompt tokens | policy | TTFT one process (ms) | TTFT split (ms) | split/one | decode one (tok/s) | decode split (tok/s) | split/one |',
      '|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
      'llama.cpp synchronises with every worker at each token: each decode step crosses the network once per device ' +
        'boundary, so decode is bound by round trips and a LAN is slower than loopback. On loopback the workers share this ' +
        "machine's cores with the engine, so these figures check the harness and the protocol's overhead; they are not what a " +
        'second machine would give. A model that does not fit one machine is what workers are for (docs/SCALE_OUT.md).',
    ].join('\n');
    const file = writeBenchmarksSection(options.outputDir, TITLE, section);
    process.stderr.write(`[bench] wrote the workers section of ${file}\n`);
    process.stdout.write(`${section}\n`);
  } finally {
    for (const worker of started) await stopWorker(worker);
  }
}
