// `sift plan`: what policy auto would choose for a model and a prompt length, without running it
// and without loading the weights: the shape comes from the GGUF header, the free memory from the
// OS (or --free-ram / --free-vram), the costs from the presses' cost model (src-common/policy/select.ts).
import os from 'node:os';
import { parseArgs } from 'node:util';
import { readGgufFileInfo } from 'node-llama-cpp';
import { formatBytes, parseByteSize } from '../../src-common/format.js';
import { modelShapeFromMetadata } from '../../src-common/modelShape.js';
import { computeBytesEstimate } from '../../src-common/policy/computeBytes.js';
import type { NativeFeature } from '../../src-common/policy/press.js';
import { defaultMarginBytes, PREFERENCES, selectPolicy, type Preference, type Selection } from '../../src-common/policy/select.js';
import { checkModelFile } from '../../src-engine/modelFile.js';
import { readBuildRecord } from '../../src-engine/nativeBuilds.js';
import { positiveWholeNumber, UsageError } from './usageError.js';

export const PLAN_USAGE = `sift plan --model <file.gguf> --prompt-tokens <n> [--json]
  --model <path>         GGUF model file (or SIFT_MODEL); only its header is read
  --prompt-tokens <n>    the prompt's length in tokens
  --max-tokens <n>       answer length to leave room for (default 256)
  --context <tokens>     context size (default: the model's, at most 16384)
  --free-ram <size>      free RAM to plan with (e.g. 8gb; default: the OS's figure)
  --free-vram <size>     plan for a GPU with this much free VRAM instead (weights and KV on it)
  --margin <size>        memory kept free beside the turn (default 10% of free, at least 256mb)
  --prefer <p>           exact, balanced (default) or fast
  --json                 print one JSON object`;

const DEFAULT_MAX_CONTEXT = 16_384;

interface PlanArgs {
  model: string;
  promptTokens: number;
  maxTokens: number;
  contextSize: number | undefined;
  freeRamBytes: number | undefined;
  freeVramBytes: number | undefined;
  marginBytes: number | undefined;
  preference: Preference;
  json: boolean;
}

function byteSize(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  const bytes = parseByteSize(raw);
  if (bytes === null) throw new UsageError(`${flag} takes a size such as 512mb or 2gb, not "${raw}"`);
  return bytes;
}

export function parsePlanArgs(argv: string[]): PlanArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        'prompt-tokens': { type: 'string' },
        'max-tokens': { type: 'string' },
        context: { type: 'string' },
        'free-ram': { type: 'string' },
        'free-vram': { type: 'string' },
        margin: { type: 'string' },
        prefer: { type: 'string', default: 'balanced' },
        json: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${PLAN_USAGE}`);
  }
  const { values } = parsed;
  const model = values.model ?? process.env['SIFT_MODEL'];
  if (!model) throw new UsageError(`--model <file.gguf> is needed (or set SIFT_MODEL)\n${PLAN_USAGE}`);
  const promptTokens = positiveWholeNumber(values['prompt-tokens'], '--prompt-tokens');
  if (promptTokens === undefined) throw new UsageError(`--prompt-tokens <n> is needed\n${PLAN_USAGE}`);
  if (!PREFERENCES.includes(values.prefer as Preference)) throw new UsageError(`--prefer must be one of ${PREFERENCES.join(', ')}`);
  return {
    model,
    promptTokens,
    maxTokens: positiveWholeNumber(values['max-tokens'], '--max-tokens') ?? 256,
    contextSize: positiveWholeNumber(values.context, '--context'),
    freeRamBytes: byteSize(values['free-ram'], '--free-ram'),
    freeVramBytes: byteSize(values['free-vram'], '--free-vram'),
    marginBytes: byteSize(values.margin, '--margin'),
    preference: values.prefer as Preference,
    json: values.json,
  };
}

/** The features the patched build gives, when it is built; the stock build evicts nothing. */
function buildFeatures(): Set<NativeFeature> {
  return readBuildRecord('patched') ? new Set<NativeFeature>(['kvBudgets', 'lazyPrefill', 'observation']) : new Set();
}

export async function planSelection(args: PlanArgs): Promise<{ selection: Selection; freeBytes: number; marginBytes: number; contextSize: number; model: string }> {
  // a missing, truncated or corrupt file gets the engine's own sentence before any reader sees it
  const sizeBytes = await checkModelFile(args.model);
  const info = await readGgufFileInfo(args.model, { readTensorInfo: false });
  const shape = modelShapeFromMetadata(info.metadata);
  const contextSize = Math.min(args.contextSize ?? DEFAULT_MAX_CONTEXT, shape.trainContextSize || DEFAULT_MAX_CONTEXT);
  // a GPU when one is stated (the weights and the KV on it), else this machine's RAM
  const onGpu = args.freeVramBytes !== undefined;
  const freeBytes = args.freeVramBytes ?? args.freeRamBytes ?? os.freemem();
  const marginBytes = args.marginBytes ?? defaultMarginBytes(freeBytes);
  const model = { ...shape, name: shape.name ?? args.model, weightsBytes: sizeBytes, contextSize };
  const selection = selectPolicy({
    model,
    promptTokens: args.promptTokens,
    answerTokens: args.maxTokens,
    freeBytes,
    memoryName: onGpu ? 'VRAM' : 'RAM',
    weightsLoaded: false,
    marginBytes,
    computeBytes: (ctx) => computeBytesEstimate(shape, ctx),
    options: { batchSize: 512, flashAttention: false, swaFullCache: false, features: buildFeatures() },
    profile: null,
    preference: args.preference,
  });
  return { selection, freeBytes, marginBytes, contextSize, model: model.name };
}

/** The JSON `sift plan --json` prints (docs/CLI.md). */
export function planJson(result: Awaited<ReturnType<typeof planSelection>>) {
  const { selection } = result;
  return {
    policy: selection.policy,
    fits: selection.fits,
    lossy: selection.lossy,
    predictedBytes: selection.predictedBytes,
    freeBytes: result.freeBytes,
    marginBytes: result.marginBytes,
    contextSize: result.contextSize,
    // needs this machine's measured prefill rate, which Sift does not record yet
    expectedTtftMs: null,
    explanation: selection.explanation,
    notices: selection.notices,
  };
}

export async function planCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${PLAN_USAGE}\n`);
    return 0;
  }
  const args = parsePlanArgs(argv);
  const result = await planSelection(args);
  if (args.json) {
    process.stdout.write(`${JSON.stringify(planJson(result), null, 2)}\n`);
  } else {
    const { selection } = result;
    const bytes = selection.predictedBytes;
    process.stdout.write(
      [
        `Policy: ${selection.policy}${selection.fits ? '' : ' (does not fit)'}`,
        selection.explanation,
        `Predicted: weights ${formatBytes(bytes.model)}, KV ${formatBytes(bytes.kv)}, compute ${formatBytes(bytes.compute)}; peak ${formatBytes(bytes.peak)}, steady ${formatBytes(bytes.steady)}`,
        ...selection.notices.map((n) => `Notice: ${n}`),
      ].join('\n') + '\n',
    );
  }
  return result.selection.fits ? 0 : 1;
}
