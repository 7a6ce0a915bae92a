// `npm run bench -- --ship-frontier` (issue 15): measures the frontiers auto reads for the test
// model as `sift calibrate --measure frontier` does, at each prompt length (real-prose questions,
// each lossy candidate against the model's own full-KV answers), writes them into the app's shipped file
// (resources/frontiers/<sha256>.json, what an uncalibrated install of that model uses) and records
// the run in docs/BENCHMARKS.md with its command, machine and date.
import path from 'node:path';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import { calibrateLengths, candidatesFor, contextFor, DEFAULT_FRONTIER, DEFAULT_FRONTIER_LENGTHS, machineName } from '../../src-main/models/frontierCalibration.js';
import { readShippedFrontiers, readShippedLayerProfile, writeShippedFrontiers, writeShippedLayerProfile } from '../../src-main/models/modelFrontiers.js';
import { calibrateLayers, DEFAULT_CALIBRATION, loadCalibrationDocuments } from '../../src-main/models/layerCalibration.js';
import type { LayerProfile } from '../../src-common/policy/simLayerKvLayers.js';
import { lossPoints, nearestFrontier, withPoints, type ModelFrontier } from '../../src-common/policy/frontier.js';
import { machineLine, todayUtc, writeBenchmarksSection } from '../../scripts/load/benchmarksSection.js';
import { UsageError } from '../../src-main/cli/usageError.js';
import { testModelPath } from '../helpers/testModel.js';
import { identifyModel } from './modelIdentity.js';
import type { BenchOptions } from './options.js';

const TITLE = 'The frontier auto reads, shipped with the app';
/** As many fact depths as the shipped SmolLM2 frontier's ~2k length was measured with (its ~4k length: 4, a question takes ~6 min there on 2 cores). */
const DEFAULT_DEPTHS = 8;

function lengthTable(frontier: ModelFrontier, source: string): string[] {
  const rows = frontier.points.map(
    (p) => `| \`${p.policy}\` | ${p.kept}/${frontier.fullCorrect} | ${p.sameAnswer}/${frontier.questions} | ${(p.top1 * 100).toFixed(1)}% | ${lossPoints(p).toFixed(1)} | ${p.ttftSpeedup.toFixed(2)}× | ${p.kvSmaller.toFixed(1)}× |`,
  );
  return [
    `**~${frontier.promptTokens.toLocaleString('en-US')} tokens** (${source}): ${frontier.questions} question${frontier.questions === 1 ? '' : 's'}; full KV answered ${frontier.fullCorrect} of them right.`,
    '',
    '| policy | kept | same | top-1 | points lost | TTFT vs full | KV smaller |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ];
}

export interface ShipContext {
  command: string;
  machine: string;
  model: string;
  file: string;
  minutes: number;
  /** Prompt lengths this run measured. */
  measuredNow: readonly number[];
  /** With --ship-add: the family this run added to those lengths (their other rows kept from the file). */
  added: 'simlayerkv' | null;
  /** The layer profile shipped in the same file, when there is one. */
  layers: { trimmed: number; of: number } | null;
}

function lengthSource(frontier: ModelFrontier, context: ShipContext): string {
  const kept = `measured ${frontier.measuredAt.slice(0, 10)} on ${frontier.machine}`;
  if (!context.measuredNow.includes(frontier.promptTokens)) return `kept from the file: ${kept}`;
  return context.added ? `${context.added} row: this run; the others kept from the file, ${kept}` : 'this run';
}

/** The shipped file's frontiers, every length it holds, what this run measured said so. */
export function shipFrontierSection(frontiers: readonly ModelFrontier[], context: ShipContext): string {
  const layers = context.layers
    ? `SimLayerKV rows trim the ${context.layers.trimmed} of ${context.layers.of} layers of the layer profile shipped in the same file (measured as \`sift calibrate --measure layers\` measures them), keeping the sinks and window they were measured with.`
    : 'No SimLayerKV row: no layer profile ships for this model.';
  return [
    `## ${todayUtc()} — ${TITLE}`,
    '',
    `Command: \`${context.command}\`. Machine: ${context.machine}. ${context.model}, patched build, flash attention off; ${context.minutes.toFixed(0)} min. ` +
      `Written to \`${context.file}\`, which auto reads for this model until it is calibrated on the person's machine (docs/POLICIES.md, "Policy auto").`,
    '',
    `The file holds real-prose questions at ${frontiers.length} prompt length${frontiers.length === 1 ? '' : 's'} (built as \`sift calibrate\` builds them, seed ${DEFAULT_FRONTIER.seed}); a turn's auto reads the length nearest its prompt. ` +
      'Kept: of the questions full KV answered right, answered right under the policy too; same: normalised answer equal to full KV\'s; top-1: share of full KV\'s answer tokens the policy ranks first with them forced through (points lost = 100 × (1 − top-1)); TTFT: median of full KV\'s first-token time over the policy\'s (>1: sooner, paired within the run that measured the row); KV: full KV\'s steady KV bytes over the policy\'s. ' +
      layers,
    ...frontiers.flatMap((f) => ['', ...lengthTable(f, lengthSource(f, context))]),
  ].join('\n');
}

/** The layer profile shipped for the model, or one measured now (and shipped) when none ships. */
async function shippedLayers(engine: EngineClient, modelHash: string, name: string): Promise<LayerProfile> {
  const shipped = readShippedLayerProfile(modelHash);
  if (shipped) return shipped;
  process.stderr.write('[bench] no layer profile ships for this model: measuring one as sift calibrate does\n');
  const profile = await calibrateLayers(engine, await loadCalibrationDocuments(), DEFAULT_CALIBRATION, (line) => process.stderr.write(`[bench] ${line}\n`));
  await writeShippedLayerProfile(modelHash, name, profile);
  return profile;
}

export async function runShipFrontierBench(options: BenchOptions): Promise<void> {
  const lengths = [...(options.lengths ?? DEFAULT_FRONTIER_LENGTHS)].sort((a, b) => a - b);
  const settings = { ...DEFAULT_FRONTIER, depths: options.depths ?? DEFAULT_DEPTHS };
  const identity = await identifyModel(testModelPath(options.model));
  const started = Date.now();
  const machine = machineLine();
  const engine = await EngineClient.start({ build: 'patched' });
  let measured: ModelFrontier[];
  let name: string;
  let layerCount: number;
  try {
    if (engine.build.kind !== 'patched') throw new Error('the frontier needs the patched build (npm run setup)');
    const longest = contextFor(lengths.at(-1)!, settings.answerTokens);
    const info = await engine.loadModel({ path: identity.path, contextSize: Math.max(longest, DEFAULT_CALIBRATION.tokens + DEFAULT_CALIBRATION.forced + 16) });
    if (longest > info.contextSize) throw new UsageError(`--lengths: ${info.name} opens a context of ${info.contextSize} tokens`);
    name = info.name;
    layerCount = info.layers;
    const layerProfile = options.shipAdd === 'simlayerkv' ? await shippedLayers(engine, identity.sha256, info.name) : readShippedLayerProfile(identity.sha256);
    const candidates = candidatesFor(info, layerProfile).filter((c) => options.shipAdd === null || c.family === options.shipAdd);
    if (candidates.length === 0) throw new Error(`${info.name}: nothing to add (its layer profile trims no layer)`);
    process.stderr.write(`[bench] frontier of ${info.name}: ${candidates.map((c) => c.policy).join(', ')} at ${lengths.join(', ')} tokens\n`);
    measured = await calibrateLengths(engine, lengths, candidates, { ...settings, layerProfile, machine: machineName() }, { progress: (line) => process.stderr.write(`[bench] ${line}\n`) });
  } finally {
    await engine.close();
  }
  // an added family joins the rows already shipped at its length, measured on the same questions
  const shipped = readShippedFrontiers(identity.sha256);
  const written = options.shipAdd
    ? measured.map((m) => {
        const at = nearestFrontier(shipped, m.promptTokens);
        if (!at) throw new UsageError('--ship-add: no shipped frontier to add to; measure one first');
        return withPoints(at, m);
      })
    : measured;
  const file = await writeShippedFrontiers(identity.sha256, name, written);
  const profile = readShippedLayerProfile(identity.sha256);
  const section = shipFrontierSection(readShippedFrontiers(identity.sha256), {
    measuredNow: written.map((f) => f.promptTokens),
    added: options.shipAdd,
    layers: profile && profile.trimmedLayers.length > 0 ? { trimmed: profile.trimmedLayers.length, of: layerCount } : null,
    command: options.command,
    machine,
    model: identity.name,
    file: path.relative(process.cwd(), file),
    minutes: (Date.now() - started) / 60_000,
  });
  process.stderr.write(`[bench] wrote ${file} and the frontier section of ${writeBenchmarksSection(options.outputDir, TITLE, section)}\n`);
  process.stdout.write(`${section}\n`);
}
