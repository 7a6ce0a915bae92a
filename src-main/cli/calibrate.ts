// `sift calibrate <model.gguf>`: measures which layers SimLayerKV can make lazy on this model
// (src-main/models/layerCalibration.ts) and the model's frontier, what each lossy policy keeps of
// full KV's answers on real prose (src-main/models/frontierCalibration.ts); prints progress on
// stderr and stores both in the data directory keyed by the model file's hash, where `simlayerkv`
// turns and policy auto find them.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { EngineClient } from '../engine/engineClient.js';
import { calibrateLayers, DEFAULT_CALIBRATION, loadCalibrationDocuments, percent, type CalibrationOptions } from '../models/layerCalibration.js';
import { modelFileHash } from '../models/modelHash.js';
import { readLayerProfile, withLayerProfile } from '../../src-common/policy/calibration.js';
import { lossPoints, withFrontier, type ModelFrontier } from '../../src-common/policy/frontier.js';
import type { LayerProfile } from '../../src-common/policy/simLayerKvLayers.js';
import { calibrateLengths, contextFor, DEFAULT_FRONTIER, DEFAULT_FRONTIER_LENGTHS, candidatesFor, lengthsWithin, machineName, type FrontierOptions } from '../models/frontierCalibration.js';
import { writeShippedFrontiers, writeShippedLayerProfile } from '../models/modelFrontiers.js';
import { openStore } from '../store/index.js';
import { positiveWholeNumber, UsageError } from './usageError.js';

export const CALIBRATE_USAGE = `sift calibrate [options] <model.gguf>
  --tokens <n>         longest calibration prompt in tokens (default ${DEFAULT_CALIBRATION.tokens})
  --window <n>         recent tokens a trimmed layer keeps while measuring (default ${DEFAULT_CALIBRATION.window})
  --forced <n>         teacher-forced answer tokens compared per document (default ${DEFAULT_CALIBRATION.forced})
  --min-agreement <f>  top-1 agreement with full KV the trimmed layers must keep (default ${DEFAULT_CALIBRATION.minAgreement})
  --documents <n>      how many built-in documents to use (default: all)
  --step <n>           trimmed layers added per tried set (default: a tenth of the depth)
  --measure <list>     what to measure: layers, frontier or both (default layers,frontier)
  --frontier-tokens <list>  prompt lengths of the frontier's questions, comma-separated; auto reads
                       the one nearest a turn's prompt (default ${DEFAULT_FRONTIER_LENGTHS.join(',')})
  --depths <n>         fact depths of the frontier's questions, 4 per document (default ${DEFAULT_FRONTIER.depths})
  --ship               also write what was measured (frontier, layer profile) into the app's shipped
                       file for the model (resources/frontiers/)
  --json               print what was stored as one JSON object`;

type Measure = 'layers' | 'frontier';

interface CalibrateArgs {
  model: string;
  json: boolean;
  documents: number | null;
  options: CalibrationOptions;
  measure: Set<Measure>;
  frontier: Omit<FrontierOptions, 'tokens'>;
  frontierLengths: number[];
  ship: boolean;
}

function wholeNumber(value: string | undefined, flag: string, fallback: number): number {
  return positiveWholeNumber(value, flag) ?? fallback;
}

export function parseCalibrateArgs(argv: string[]): CalibrateArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        model: { type: 'string' },
        tokens: { type: 'string' },
        window: { type: 'string' },
        forced: { type: 'string' },
        'min-agreement': { type: 'string' },
        documents: { type: 'string' },
        step: { type: 'string' },
        measure: { type: 'string', default: 'layers,frontier' },
        'frontier-tokens': { type: 'string' },
        depths: { type: 'string' },
        ship: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${CALIBRATE_USAGE}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError(`one model file, not ${positionals.length}\n${CALIBRATE_USAGE}`);
  const model = positionals[0] ?? values.model ?? process.env['SIFT_MODEL'];
  if (!model) throw new UsageError(`a model file is needed: sift calibrate <model.gguf>\n${CALIBRATE_USAGE}`);
  const minAgreement = values['min-agreement'] === undefined ? DEFAULT_CALIBRATION.minAgreement : Number(values['min-agreement']);
  if (!Number.isFinite(minAgreement) || minAgreement < 0 || minAgreement > 1) {
    throw new UsageError(`--min-agreement must be between 0 and 1, not "${values['min-agreement']}"`);
  }
  const step = values.step === undefined ? undefined : wholeNumber(values.step, '--step', 1);
  const measure = new Set(values.measure.split(',').map((m) => m.trim()));
  for (const m of measure) if (m !== 'layers' && m !== 'frontier') throw new UsageError(`--measure takes layers, frontier or both, not "${m}"`);
  return {
    model,
    json: values.json,
    documents: values.documents === undefined ? null : wholeNumber(values.documents, '--documents', 1),
    options: {
      ...DEFAULT_CALIBRATION,
      tokens: wholeNumber(values.tokens, '--tokens', DEFAULT_CALIBRATION.tokens),
      window: wholeNumber(values.window, '--window', DEFAULT_CALIBRATION.window),
      forced: wholeNumber(values.forced, '--forced', DEFAULT_CALIBRATION.forced),
      minAgreement,
      ...(step ? { step } : {}),
    },
    measure: measure as Set<Measure>,
    frontier: { ...DEFAULT_FRONTIER, depths: wholeNumber(values.depths, '--depths', DEFAULT_FRONTIER.depths) },
    frontierLengths: values['frontier-tokens'] === undefined ? [...DEFAULT_FRONTIER_LENGTHS] : lengthList(values['frontier-tokens']),
    ship: values.ship,
  };
}

/** "2048,4096" as lengths of at least 256 tokens (a shorter question has no room for a document). */
function lengthList(value: string): number[] {
  const lengths = value.split(',').map((part) => Number(part.trim()));
  if (lengths.some((n) => !Number.isInteger(n) || n < 256)) throw new UsageError(`--frontier-tokens takes whole numbers of at least 256, comma-separated, not "${value}"`);
  return [...new Set(lengths)].sort((a, b) => a - b);
}

export async function calibrateCommand(argv: string[]): Promise<number> {
  const args = parseCalibrateArgs(argv);
  const modelPath = path.resolve(args.model);
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  const all = await loadCalibrationDocuments();
  if (args.documents !== null && args.documents > all.length) {
    throw new UsageError(`--documents: there are ${all.length} built-in documents`);
  }
  const documents = all.slice(0, args.documents ?? all.length);

  // hashing reads the whole file; it runs while the engine starts
  const hashing = modelFileHash(modelPath);
  hashing.catch(() => undefined);
  const started = Date.now();
  const client = await EngineClient.start({ build: 'patched' });
  try {
    if (client.build.kind !== 'patched') throw new Error(`calibration needs the patched build (run npm run setup)${client.notice ? `: ${client.notice}` : ''}`);
    // room for the longest prompt and the answer after it
    const longest = Math.max(
      args.measure.has('layers') ? args.options.tokens + args.options.forced + 16 : 0,
      args.measure.has('frontier') ? contextFor(Math.max(...args.frontierLengths), args.frontier.answerTokens) : 0,
    );
    const info = await client.loadModel({ path: modelPath, contextSize: longest });
    const modelHash = await hashing;
    const store = openStore();
    try {
      let stored = store.modelProfiles.get(modelHash)?.profile;
      const save = (profile: Record<string, unknown>) => {
        stored = profile;
        store.modelProfiles.put({ modelHash, path: modelPath, name: info.name, profile });
      };
      const lines: string[] = [];
      const printed: Record<string, unknown> = { modelHash, model: modelPath };
      if (args.measure.has('layers')) {
        progress(`calibrating SimLayerKV layers of ${info.name} (${info.layers} layers) on ${documents.length} document${documents.length === 1 ? '' : 's'}`);
        const profile = await calibrateLayers(client, documents, args.options, progress);
        save(withLayerProfile(stored, profile));
        if (args.ship) lines.push(`shipped layer profile written to ${path.relative(process.cwd(), await writeShippedLayerProfile(modelHash, info.name, profile))}`);
        Object.assign(printed, profile);
        const best = profile.agreement === null ? 'no layer kept it' : `top-1 agreement ${percent(profile.agreement)}`;
        lines.push(
          `${info.name}: ${profile.trimmedLayers.length} of ${info.layers} layers lazy (delta ${profile.delta.toFixed(4)})` +
            (profile.trimmedLayers.length ? `: ${profile.trimmedLayers.join('/')}` : ''),
          `fidelity: ${best} with full KV over ${profile.forced} forced tokens x ${profile.documents.length} documents (needed ${percent(profile.threshold)})`,
        );
      }
      if (args.measure.has('frontier')) {
        const layerProfile: LayerProfile | null = readLayerProfile(stored);
        const candidates = candidatesFor(info, layerProfile);
        // the engine opens at most the model's trained context
        const lengths = lengthsWithin(args.frontierLengths, info.contextSize, args.frontier.answerTokens);
        const skipped = args.frontierLengths.filter((t) => !lengths.includes(t));
        if (skipped.length) progress(`left out ${skipped.join(', ')} tokens: ${info.name} opens a context of ${info.contextSize} tokens`);
        progress(`measuring ${info.name}'s frontier at ${lengths.join(', ')} tokens`);
        const frontiers = await calibrateLengths(client, lengths, candidates, { ...args.frontier, layerProfile, machine: machineName() }, {
          progress,
          onLength: (frontier) => save(withFrontier(stored, frontier)),
        });
        printed['frontiers'] = frontiers;
        for (const frontier of frontiers) lines.push(...frontierLines(frontier));
        if (args.ship) {
          const file = await writeShippedFrontiers(modelHash, info.name, frontiers);
          lines.push(`shipped frontiers written to ${path.relative(process.cwd(), file)}`);
        }
      }
      if (args.json) {
        process.stdout.write(`${JSON.stringify(printed)}\n`);
      } else {
        lines.push(`saved in ${store.dataDir} for model ${modelHash.slice(0, 12)}… (${((Date.now() - started) / 1000).toFixed(0)} s)`);
        process.stdout.write(`${lines.join('\n')}\n`);
      }
    } finally {
      store.close();
    }
    return 0;
  } finally {
    await client.close();
  }
}

/** The frontier as a table a person reads: what each policy kept and bought. */
export function frontierLines(frontier: ModelFrontier): string[] {
  const rows = frontier.points.map(
    (p) =>
      `  ${p.policy.padEnd(58)} kept ${String(p.kept).padStart(2)}/${frontier.fullCorrect}  same ${String(p.sameAnswer).padStart(2)}/${frontier.questions}  top-1 ${percent(p.top1).padStart(6)} (-${lossPoints(p).toFixed(1)} pts)  TTFT ${p.ttftSpeedup.toFixed(2)}x  KV ${p.kvSmaller.toFixed(1)}x smaller`,
  );
  return [`frontier: ${frontier.questions} question${frontier.questions === 1 ? '' : 's'} of ~${frontier.promptTokens} tokens, full KV answered ${frontier.fullCorrect} correctly`, ...rows];
}
