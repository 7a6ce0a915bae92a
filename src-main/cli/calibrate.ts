// `sift calibrate <model.gguf>`: measures which layers SimLayerKV can make lazy on this model
// (src-main/models/layerCalibration.ts), prints progress on stderr, and stores the profile in the
// data directory keyed by the model file's hash, where `simlayerkv` turns find it.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { EngineClient } from '../engine/engineClient.js';
import { calibrateLayers, DEFAULT_CALIBRATION, loadCalibrationDocuments, percent, type CalibrationOptions } from '../models/layerCalibration.js';
import { modelFileHash } from '../models/modelHash.js';
import { withLayerProfile } from '../../src-common/policy/calibration.js';
import { openStore } from '../store/index.js';
import { positiveWholeNumber, UsageError } from './usageError.js';

export const CALIBRATE_USAGE = `sift calibrate [options] <model.gguf>
  --tokens <n>         longest calibration prompt in tokens (default ${DEFAULT_CALIBRATION.tokens})
  --window <n>         recent tokens a trimmed layer keeps while measuring (default ${DEFAULT_CALIBRATION.window})
  --forced <n>         teacher-forced answer tokens compared per document (default ${DEFAULT_CALIBRATION.forced})
  --min-agreement <f>  top-1 agreement with full KV the trimmed layers must keep (default ${DEFAULT_CALIBRATION.minAgreement})
  --documents <n>      how many built-in documents to use (default: all)
  --step <n>           trimmed layers added per tried set (default: a tenth of the depth)
  --json               print the stored profile as one JSON object`;

interface CalibrateArgs {
  model: string;
  json: boolean;
  documents: number | null;
  options: CalibrationOptions;
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
  };
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
    // room for the longest prompt and the forced answer after it
    const info = await client.loadModel({ path: modelPath, contextSize: args.options.tokens + args.options.forced + 16 });
    progress(`calibrating ${info.name} (${info.layers} layers) on ${documents.length} document${documents.length === 1 ? '' : 's'}`);
    const profile = await calibrateLayers(client, documents, args.options, progress);
    const modelHash = await hashing;

    const store = openStore();
    try {
      const existing = store.modelProfiles.get(modelHash);
      store.modelProfiles.put({ modelHash, path: modelPath, name: info.name, profile: withLayerProfile(existing?.profile, profile) });
      if (args.json) {
        process.stdout.write(`${JSON.stringify({ modelHash, model: modelPath, ...profile })}\n`);
      } else {
        const best = profile.agreement === null ? 'no layer kept it' : `top-1 agreement ${percent(profile.agreement)}`;
        process.stdout.write(
          [
            `${info.name}: ${profile.trimmedLayers.length} of ${info.layers} layers lazy (delta ${profile.delta.toFixed(4)})` +
              (profile.trimmedLayers.length ? `: ${profile.trimmedLayers.join('/')}` : ''),
            `fidelity: ${best} with full KV over ${profile.forced} forced tokens x ${profile.documents.length} documents (needed ${percent(profile.threshold)})`,
            `saved in ${store.dataDir} for model ${modelHash.slice(0, 12)}… (${((Date.now() - started) / 1000).toFixed(0)} s)`,
          ].join('\n') + '\n',
        );
      }
    } finally {
      store.close();
    }
    return 0;
  } finally {
    await client.close();
  }
}
