// `npm run bench -- --ship-frontier` (issue 15): measures the frontier auto reads for the test
// model as `sift calibrate --measure frontier` does (real-prose questions, each lossy candidate
// against the model's own full-KV answers), writes it as the app's shipped file
// (resources/frontiers/<sha256>.json, what an uncalibrated install of that model uses) and records
// the run in docs/BENCHMARKS.md with its command, machine and date.
import path from 'node:path';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import { calibrateFrontier, calibrationCases, candidatesFor, DEFAULT_FRONTIER, machineName } from '../../src-main/models/frontierCalibration.js';
import { writeShippedFrontier } from '../../src-main/models/modelFrontiers.js';
import { lossPoints, type ModelFrontier } from '../../src-common/policy/frontier.js';
import { machineLine, todayUtc, writeBenchmarksSection } from '../../scripts/load/benchmarksSection.js';
import { UsageError } from '../../src-main/cli/usageError.js';
import { testModelPath } from '../helpers/testModel.js';
import { identifyModel } from './modelIdentity.js';
import type { BenchOptions } from './options.js';

const TITLE = 'The frontier auto reads, shipped with the app';
/** As many fact depths as the shipped SmolLM2 frontier was measured with. */
const DEFAULT_DEPTHS = 8;

export function shipFrontierSection(frontier: ModelFrontier, context: { command: string; machine: string; model: string; file: string; minutes: number }): string {
  const rows = frontier.points.map(
    (p) => `| \`${p.policy}\` | ${p.kept}/${frontier.fullCorrect} | ${p.sameAnswer}/${frontier.questions} | ${(p.top1 * 100).toFixed(1)}% | ${lossPoints(p).toFixed(1)} | ${p.ttftSpeedup.toFixed(2)}× | ${p.kvSmaller.toFixed(1)}× |`,
  );
  return [
    `## ${todayUtc()} — ${TITLE}`,
    '',
    `Command: \`${context.command}\`. Machine: ${context.machine}. ${context.model}, patched build, flash attention off; ${context.minutes.toFixed(0)} min. ` +
      `Written to \`${context.file}\`, which auto reads for this model until it is calibrated on the person's machine (docs/POLICIES.md, "Policy auto").`,
    '',
    `${frontier.questions} real-prose question${frontier.questions === 1 ? '' : 's'} of ~${frontier.promptTokens.toLocaleString('en-US')} tokens (built as \`sift calibrate\` builds them, seed ${DEFAULT_FRONTIER.seed}); full KV answered ${frontier.fullCorrect} of them right. ` +
      'Kept: of those, answered right under the policy too; same: normalised answer equal to full KV\'s; top-1: share of full KV\'s answer tokens the policy ranks first with them forced through (points lost = 100 × (1 − top-1)); TTFT: median of full KV\'s first-token time over the policy\'s (>1: sooner); KV: full KV\'s steady KV bytes over the policy\'s. No SimLayerKV row: the bench runs without a calibrated layer profile.',
    '',
    '| policy | kept | same | top-1 | points lost | TTFT vs full | KV smaller |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

export async function runShipFrontierBench(options: BenchOptions): Promise<void> {
  const lengths = options.lengths ?? [DEFAULT_FRONTIER.tokens];
  if (lengths.length !== 1) throw new UsageError('--ship-frontier measures one prompt length (the shipped file holds one): give --lengths N');
  const settings = { ...DEFAULT_FRONTIER, tokens: lengths[0]!, depths: options.depths ?? DEFAULT_DEPTHS };
  const identity = await identifyModel(testModelPath(options.model));
  const started = Date.now();
  const machine = machineLine();
  const engine = await EngineClient.start({ build: 'patched' });
  let frontier: ModelFrontier;
  let name: string;
  try {
    if (engine.build.kind !== 'patched') throw new Error('the frontier needs the patched build (npm run setup)');
    const info = await engine.loadModel({ path: identity.path, contextSize: settings.tokens + settings.answerTokens + 16 });
    name = info.name;
    const cases = await calibrationCases(engine, settings);
    const candidates = candidatesFor(info, null);
    process.stderr.write(`[bench] frontier of ${info.name}: ${candidates.length} policies on ${cases.length} questions of ~${settings.tokens} tokens\n`);
    frontier = await calibrateFrontier(engine, cases, candidates, { ...settings, layerProfile: null, machine: machineName() }, (line) => process.stderr.write(`[bench] ${line}\n`));
  } finally {
    await engine.close();
  }
  const file = await writeShippedFrontier(identity.sha256, name, frontier);
  const section = shipFrontierSection(frontier, {
    command: options.command,
    machine,
    model: identity.name,
    file: path.relative(process.cwd(), file),
    minutes: (Date.now() - started) / 60_000,
  });
  process.stderr.write(`[bench] wrote ${file} and the frontier section of ${writeBenchmarksSection(options.outputDir, TITLE, section)}\n`);
  process.stdout.write(`${section}\n`);
}
