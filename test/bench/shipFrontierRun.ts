// `npm run bench -- --ship-frontier` (issue 15): measures the frontiers auto reads for the test
// model as `sift calibrate --measure frontier` does, at each prompt length (real-prose questions,
// each lossy candidate against the model's own full-KV answers), writes them into the app's shipped file
// (resources/frontiers/<sha256>.json, what an uncalibrated install of that model uses) and records
// the run in docs/BENCHMARKS.md with its command, machine and date.
import path from 'node:path';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import { calibrateLengths, candidatesFor, contextFor, DEFAULT_FRONTIER, DEFAULT_FRONTIER_LENGTHS, machineName } from '../../src-main/models/frontierCalibration.js';
import { readShippedFrontiers, writeShippedFrontiers } from '../../src-main/models/modelFrontiers.js';
import { lossPoints, type ModelFrontier } from '../../src-common/policy/frontier.js';
import { machineLine, todayUtc, writeBenchmarksSection } from '../../scripts/load/benchmarksSection.js';
import { UsageError } from '../../src-main/cli/usageError.js';
import { testModelPath } from '../helpers/testModel.js';
import { identifyModel } from './modelIdentity.js';
import type { BenchOptions } from './options.js';

const TITLE = 'The frontier auto reads, shipped with the app';
/** As many fact depths as the shipped SmolLM2 frontier's ~2k length was measured with (its ~4k length: 4, a question takes ~6 min there on 2 cores). */
const DEFAULT_DEPTHS = 8;

function lengthTable(frontier: ModelFrontier, measuredNow: boolean): string[] {
  const rows = frontier.points.map(
    (p) => `| \`${p.policy}\` | ${p.kept}/${frontier.fullCorrect} | ${p.sameAnswer}/${frontier.questions} | ${(p.top1 * 100).toFixed(1)}% | ${lossPoints(p).toFixed(1)} | ${p.ttftSpeedup.toFixed(2)}× | ${p.kvSmaller.toFixed(1)}× |`,
  );
  return [
    `**~${frontier.promptTokens.toLocaleString('en-US')} tokens** (${measuredNow ? 'this run' : `kept from the file: measured ${frontier.measuredAt.slice(0, 10)} on ${frontier.machine}`}): ` +
      `${frontier.questions} question${frontier.questions === 1 ? '' : 's'}; full KV answered ${frontier.fullCorrect} of them right.`,
    '',
    '| policy | kept | same | top-1 | points lost | TTFT vs full | KV smaller |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ];
}

/** The shipped file's frontiers, every length it holds, those this run measured said so. */
export function shipFrontierSection(
  frontiers: readonly ModelFrontier[],
  context: { command: string; machine: string; model: string; file: string; minutes: number; measuredNow: readonly number[] },
): string {
  return [
    `## ${todayUtc()} — ${TITLE}`,
    '',
    `Command: \`${context.command}\`. Machine: ${context.machine}. ${context.model}, patched build, flash attention off; ${context.minutes.toFixed(0)} min. ` +
      `Written to \`${context.file}\`, which auto reads for this model until it is calibrated on the person's machine (docs/POLICIES.md, "Policy auto").`,
    '',
    `The file holds real-prose questions at ${frontiers.length} prompt length${frontiers.length === 1 ? '' : 's'} (built as \`sift calibrate\` builds them, seed ${DEFAULT_FRONTIER.seed}); a turn's auto reads the length nearest its prompt. ` +
      'Kept: of the questions full KV answered right, answered right under the policy too; same: normalised answer equal to full KV\'s; top-1: share of full KV\'s answer tokens the policy ranks first with them forced through (points lost = 100 × (1 − top-1)); TTFT: median of full KV\'s first-token time over the policy\'s (>1: sooner); KV: full KV\'s steady KV bytes over the policy\'s. No SimLayerKV row: the bench runs without a calibrated layer profile.',
    ...frontiers.flatMap((f) => ['', ...lengthTable(f, context.measuredNow.includes(f.promptTokens))]),
  ].join('\n');
}

export async function runShipFrontierBench(options: BenchOptions): Promise<void> {
  const lengths = [...(options.lengths ?? DEFAULT_FRONTIER_LENGTHS)].sort((a, b) => a - b);
  const settings = { ...DEFAULT_FRONTIER, depths: options.depths ?? DEFAULT_DEPTHS };
  const identity = await identifyModel(testModelPath(options.model));
  const started = Date.now();
  const machine = machineLine();
  const engine = await EngineClient.start({ build: 'patched' });
  let frontiers: ModelFrontier[];
  let name: string;
  try {
    if (engine.build.kind !== 'patched') throw new Error('the frontier needs the patched build (npm run setup)');
    const info = await engine.loadModel({ path: identity.path, contextSize: contextFor(lengths.at(-1)!, settings.answerTokens) });
    if (contextFor(lengths.at(-1)!, settings.answerTokens) > info.contextSize) throw new UsageError(`--lengths: ${info.name} opens a context of ${info.contextSize} tokens`);
    name = info.name;
    const candidates = candidatesFor(info, null);
    process.stderr.write(`[bench] frontier of ${info.name}: ${candidates.length} policies at ${lengths.join(', ')} tokens\n`);
    frontiers = await calibrateLengths(engine, lengths, candidates, { ...settings, layerProfile: null, machine: machineName() }, { progress: (line) => process.stderr.write(`[bench] ${line}\n`) });
  } finally {
    await engine.close();
  }
  const file = await writeShippedFrontiers(identity.sha256, name, frontiers);
  const section = shipFrontierSection(readShippedFrontiers(identity.sha256), {
    measuredNow: frontiers.map((f) => f.promptTokens),
    command: options.command,
    machine,
    model: identity.name,
    file: path.relative(process.cwd(), file),
    minutes: (Date.now() - started) / 60_000,
  });
  process.stderr.write(`[bench] wrote ${file} and the frontier section of ${writeBenchmarksSection(options.outputDir, TITLE, section)}\n`);
  process.stdout.write(`${section}\n`);
}
