// `sift plan`: what policy auto would choose for a model and a prompt (a length, or a document read
// and counted as a turn would be), without running it and without loading the weights: the shape
// comes from the GGUF header, the free memory from the OS (or --free-ram / --free-vram), the costs
// from the presses' cost model (src-common/policy/select.ts).
import { StoredFrontiers } from '../models/modelFrontiers.js';
import { StoredLayerProfiles } from '../models/layerProfiles.js';
import type { LayerProfile } from '../../src-common/policy/simLayerKvLayers.js';
import { nearestFrontier, type ModelFrontier } from '../../src-common/policy/frontier.js';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { readGgufFileInfo } from 'node-llama-cpp';
import { formatBytes, formatMs, parseByteSize } from '../../src-common/format.js';
import { modelShapeFromMetadata, type ModelShapeFacts } from '../../src-common/modelShape.js';
import { computeBytesEstimate } from '../../src-common/policy/computeBytes.js';
import type { NativeFeature } from '../../src-common/policy/press.js';
import { defaultMarginBytes, PREFERENCES, selectPolicy, type Preference, type Selection } from '../../src-common/policy/select.js';
import { checkModelFile } from '../../src-engine/modelFile.js';
import { readBuildRecord } from '../../src-engine/nativeBuilds.js';
import { DEFAULT_SESSION_SETTINGS } from '../store/sessionDefaults.js';
import { openStore } from '../store/index.js';
import { PrefillTiming } from '../models/prefillTiming.js';
import type { ExpectedTtft } from '../../src-common/policy/expectedTtft.js';
import { countPlannedPrompt, QUESTION_ALLOWANCE_TOKENS, type PlannedPrompt } from './planPrompt.js';
import { positiveWholeNumber, UsageError } from './usageError.js';
import { DEFAULT_MAX_CONTEXT } from '../../src-common/modelLoadSettings.js';
import { EngineClient } from '../engine/engineClient.js';
import { ModelLoadSettingsStore } from '../models/modelLoadSettingsStore.js';
import type { ModelLoadSettings } from '../../src-common/modelLoadSettings.js';
import type { LoadedAs } from '../../src-common/policy/expectedTtft.js';
import type { BufferMemory, DryRunResult, WorkerDevice, WorkerSplit } from '../../src-common/engineTypes.js';
import { parseWorkerList, workerEndpoint, type WorkerAddress } from '../../src-common/workerAddress.js';
import { inspectWorker } from '../../src-engine/rpcWorkers.js';
import { bytesPerPlace, splitAcrossWorkers } from '../../src-engine/workerSplit.js';

export const PLAN_USAGE = `sift plan --model <file.gguf> (--prompt-tokens <n> | --file <document> ["<question>"]) [--json]
  --model <path>         GGUF model file (or SIFT_MODEL); only its header (and, with --file, its
                         vocabulary) is read
  --prompt-tokens <n>    the prompt's length in tokens
  --file <path>          a document (pdf, docx, html, md, txt, code): read as the app reads it and
                         counted with the question, system prompt and chat template as a turn is;
                         without a question, ${QUESTION_ALLOWANCE_TOKENS} tokens are left for one
  --system <text>        system prompt to count with --file (default: the app's)
  --budget <size>        the most the KV cache may take (e.g. 512mb), beside what memory allows
  --max-tokens <n>       answer length to leave room for (default 256)
  --context <tokens>     context size (default: the model's, at most 16384)
  --free-ram <size>      free RAM to plan with (e.g. 8gb; default: the OS's figure)
  --free-vram <size>     plan for a GPU with this much free VRAM instead (weights and KV on it)
  --margin <size>        memory kept free beside the turn (default 10% of free, at least 256mb)
  --workers <list>       sift worker addresses, host:port,… : plan with their free memory beside this
                         machine's, the layers split as the app would split them (docs/SCALE_OUT.md)
  --prefer <p>           exact, balanced (default) or fast
  --dry-run              also ask llama.cpp what the chosen policy's contexts would allocate: the
                         model loaded with no_alloc and each context created on it, nothing
                         allocated (needs the patched build; about a second)
  --json                 print one JSON object`;


interface PlanArgs {
  model: string;
  /** A length given as such, or null when a document is counted. */
  promptTokens: number | null;
  file: string | null;
  question: string;
  systemPrompt: string;
  kvBudgetBytes: number | undefined;
  maxTokens: number;
  contextSize: number | undefined;
  freeRamBytes: number | undefined;
  freeVramBytes: number | undefined;
  marginBytes: number | undefined;
  preference: Preference;
  dryRun: boolean;
  json: boolean;
  workers: WorkerAddress[];
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
        file: { type: 'string' },
        system: { type: 'string' },
        budget: { type: 'string' },
        'max-tokens': { type: 'string' },
        context: { type: 'string' },
        'free-ram': { type: 'string' },
        'free-vram': { type: 'string' },
        margin: { type: 'string' },
        prefer: { type: 'string', default: 'balanced' },
        'dry-run': { type: 'boolean', default: false },
        workers: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${PLAN_USAGE}`);
  }
  const { values, positionals } = parsed;
  const model = values.model ?? process.env['SIFT_MODEL'];
  if (!model) throw new UsageError(`--model <file.gguf> is needed (or set SIFT_MODEL)\n${PLAN_USAGE}`);
  const promptTokens = positiveWholeNumber(values['prompt-tokens'], '--prompt-tokens');
  const file = values.file ?? null;
  if (promptTokens === undefined && file === null) throw new UsageError(`--prompt-tokens <n> or --file <document> is needed\n${PLAN_USAGE}`);
  if (promptTokens !== undefined && file !== null) throw new UsageError('give --prompt-tokens or --file, not both: a document is counted with the model\'s tokenizer');
  const question = positionals.join(' ').trim();
  if (question && file === null) throw new UsageError(`a question is counted only with --file\n${PLAN_USAGE}`);
  if (!PREFERENCES.includes(values.prefer as Preference)) throw new UsageError(`--prefer must be one of ${PREFERENCES.join(', ')}`);
  let workers: WorkerAddress[];
  try {
    workers = parseWorkerList(values.workers ?? '');
  } catch (error) {
    throw new UsageError(`--workers: ${(error as Error).message}`);
  }
  if (workers.length && values['free-vram'] !== undefined) throw new UsageError('--workers plans a CPU build across workers; --free-vram plans for a GPU: give one');
  return {
    workers,
    model,
    promptTokens: promptTokens ?? null,
    file,
    question,
    systemPrompt: values.system ?? DEFAULT_SESSION_SETTINGS.systemPrompt,
    kvBudgetBytes: byteSize(values.budget, '--budget'),
    maxTokens: positiveWholeNumber(values['max-tokens'], '--max-tokens') ?? 256,
    contextSize: positiveWholeNumber(values.context, '--context'),
    freeRamBytes: byteSize(values['free-ram'], '--free-ram'),
    freeVramBytes: byteSize(values['free-vram'], '--free-vram'),
    marginBytes: byteSize(values.margin, '--margin'),
    preference: values.prefer as Preference,
    dryRun: values['dry-run'],
    json: values.json,
  };
}

/** The features the patched build gives, when it is built; the stock build evicts nothing. */
function buildFeatures(): Set<NativeFeature> {
  return readBuildRecord('patched') ? new Set<NativeFeature>(['kvBudgets', 'lazyPrefill', 'observation']) : new Set();
}

export interface PlanResult {
  selection: Selection;
  /** Where auto's measurements of this model's lossy policies come from (the calibrated length nearest the prompt, and every length calibrated); null: not calibrated. */
  calibration: (Pick<ModelFrontier, 'source' | 'machine' | 'measuredAt' | 'promptTokens'> & { lengths: number[] }) | null;
  /** With --workers: how the layers would split, where the bytes would go, and the workers that did not answer. */
  workers: {
    split: WorkerSplit | null;
    skipped: string[];
    perPlace: ReturnType<typeof bytesPerPlace> | null;
    localFreeBytes: number;
  } | null;
  freeBytes: number;
  marginBytes: number;
  contextSize: number;
  model: string;
  promptTokens: number;
  /** The counted document, with --file. */
  prompt: PlannedPrompt | null;
  /** From the plain prefills of this model measured on this machine (the app's and sift ask's), when there are any. */
  expectedTtft: ExpectedTtft | null;
  /** --dry-run: llama.cpp's figures for the chosen policy's contexts. */
  dryRun: DryRunResult | null;
}

/** llama.cpp's dry run of the chosen policy, in an engine process with the model loaded (its weights mmapped, not read). */
async function dryRunOf(args: PlanArgs, policy: string, promptTokens: number, contextSize: number, gpuLayers: number | 'auto', profile: LayerProfile | null): Promise<DryRunResult> {
  const client = await EngineClient.start({ build: 'patched' });
  try {
    if (args.workers.length) await client.addWorkers(args.workers);
    await client.loadModel({ path: args.model, contextSize, gpuLayers });
    return await client.dryRun(policy, promptTokens, profile);
  } finally {
    await client.close();
  }
}

/** The id the engine reports for the build it would run (loadLlama.ts), from the build record alone. */
function plannedBuildId(): string | null {
  const patched = readBuildRecord('patched');
  if (patched) return `sift-patched:${patched.key.slice(0, 16)}`;
  const stock = readBuildRecord('stock');
  return stock ? `stock:${stock.key.slice(0, 16)}` : null;
}

/**
 * How the app would load the model, from its stored load settings and the build: the rate the
 * expected TTFT comes from is the one measured under the same. `onGpu` is what a plan for VRAM
 * says (--free-vram), on a build with a GPU backend and GPU layers not set to 0.
 */
function plannedLoad(settings: ModelLoadSettings, planForGpu: boolean): LoadedAs {
  const record = readBuildRecord('patched') ?? readBuildRecord('stock');
  const gpuBuilt = (record?.gpu ?? 'cpu') !== 'cpu';
  return {
    onGpu: planForGpu && gpuBuilt && settings.gpuLayers !== 0,
    threads: settings.threads === 'auto' ? Math.max(1, os.availableParallelism()) : settings.threads,
    flashAttention: settings.flashAttention,
  };
}

async function expectedTtftOf(modelPath: string, shape: ModelShapeFacts, promptTokens: number, policy: string, planForGpu: boolean): Promise<ExpectedTtft | null> {
  const buildId = plannedBuildId();
  if (!buildId) return null;
  const store = openStore({ recoverInterrupted: false });
  try {
    const loaded = plannedLoad(new ModelLoadSettingsStore(store.settings).get(), planForGpu);
    return await new PrefillTiming(store.prefillSamples).expected({ path: modelPath, shape }, buildId, loaded, promptTokens, 0, policy);
  } finally {
    store.close();
  }
}

/** GPU layers as the app's settings say (what the split follows): a count, or auto. */
/**
 * The model's measured frontiers by length (this machine's sift calibrate, or the app's shipped file)
 * and its SimLayerKV layer profile (sift calibrate), as a turn in the app gets them; hashing reads the file once.
 */
async function storedCalibration(modelPath: string): Promise<{ frontiers: ModelFrontier[]; profile: LayerProfile | null }> {
  const store = openStore({ recoverInterrupted: false });
  try {
    const frontiers = await new StoredFrontiers(store.modelProfiles).forModel(modelPath);
    const profile = await new StoredLayerProfiles(store.modelProfiles).forModel(modelPath);
    return { frontiers, profile };
  } finally {
    store.close();
  }
}

function storedGpuLayers(): number | 'auto' {
  const store = openStore({ recoverInterrupted: false });
  try {
    return new ModelLoadSettingsStore(store.settings).get().gpuLayers;
  } finally {
    store.close();
  }
}

/** Each listed worker asked what it serves (nothing loaded on it), and the split the engine would make. */
async function reportedWorkers(addresses: WorkerAddress[], totalLayers: number, gpuLayers: number | 'auto', localFreeBytes: number): Promise<{ split: WorkerSplit | null; skipped: string[] }> {
  const devices: WorkerDevice[] = [];
  const skipped: string[] = [];
  for (const address of addresses) {
    try {
      const report = await inspectWorker(address);
      report.devices.forEach((device) => devices.push({ name: `RPC${devices.length}`, endpoint: workerEndpoint(address), ...device }));
    } catch (error) {
      skipped.push(`${(error as Error).message}; planning without it`);
    }
  }
  return { split: devices.length ? splitAcrossWorkers(totalLayers, gpuLayers, devices, localFreeBytes) : null, skipped };
}

export async function planSelection(args: PlanArgs): Promise<PlanResult> {
  // a missing, truncated or corrupt file gets the engine's own sentence before any reader sees it
  const sizeBytes = await checkModelFile(args.model);
  const prompt =
    args.file === null ? null : await countPlannedPrompt({ modelPath: args.model, filePath: args.file, question: args.question, systemPrompt: args.systemPrompt });
  const promptTokens = prompt?.promptTokens ?? args.promptTokens ?? 0;
  const info = await readGgufFileInfo(args.model, { readTensorInfo: false });
  const shape = modelShapeFromMetadata(info.metadata);
  const contextSize = Math.min(args.contextSize ?? DEFAULT_MAX_CONTEXT, shape.trainContextSize || DEFAULT_MAX_CONTEXT);
  // a GPU when one is stated (the weights and the KV on it), else this machine's RAM, and the
  // workers' memory beside it when they are listed
  const onGpu = args.freeVramBytes !== undefined;
  const localFreeBytes = args.freeVramBytes ?? args.freeRamBytes ?? os.freemem();
  const gpuLayers = storedGpuLayers();
  const workers = args.workers.length ? await reportedWorkers(args.workers, shape.layers + 1, gpuLayers, localFreeBytes) : null;
  const freeBytes = localFreeBytes + (workers?.split?.devices.reduce((sum, d) => sum + d.freeBytes, 0) ?? 0);
  const marginBytes = args.marginBytes ?? defaultMarginBytes(freeBytes);
  const model = { ...shape, name: shape.name ?? args.model, weightsBytes: sizeBytes, contextSize };
  const { frontiers, profile } = await storedCalibration(args.model);
  const frontier = nearestFrontier(frontiers, promptTokens);
  const selection = selectPolicy({
    model,
    promptTokens,
    answerTokens: args.maxTokens,
    freeBytes,
    memoryName: onGpu ? 'VRAM' : workers?.split ? `RAM here and on ${workers.split.devices.length === 1 ? 'a worker' : `${workers.split.devices.length} workers`}` : 'RAM',
    onGpu,
    weightsLoaded: false,
    marginBytes,
    computeBytes: (ctx) => computeBytesEstimate(shape, ctx),
    options: { batchSize: 512, flashAttention: false, swaFullCache: false, features: buildFeatures() },
    profile,
    frontier,
    preference: args.preference,
    kvBudgetBytes: args.kvBudgetBytes ?? null,
  });
  const expectedTtft = selection.fits ? await expectedTtftOf(args.model, shape, promptTokens, selection.policy, onGpu) : null;
  const dryRun = args.dryRun ? await dryRunOf(args, selection.policy, promptTokens, contextSize, gpuLayers, profile) : null;
  const perPlace = workers?.split ? bytesPerPlace(workers.split, shape.layers + 1, { weights: selection.predictedBytes.model, kv: selection.predictedBytes.kv }) : null;
  return {
    selection,
    freeBytes,
    marginBytes,
    contextSize,
    model: model.name,
    promptTokens,
    prompt,
    expectedTtft,
    dryRun,
    workers: workers ? { split: workers.split, skipped: workers.skipped, perPlace, localFreeBytes } : null,
    calibration: frontier
      ? { source: frontier.source, machine: frontier.machine, measuredAt: frontier.measuredAt, promptTokens: frontier.promptTokens, lengths: frontiers.map((f) => f.promptTokens) }
      : null,
  };
}

/** The JSON `sift plan --json` prints (docs/CLI.md). */
export function planJson(result: PlanResult) {
  const { selection } = result;
  return {
    policy: selection.policy,
    promptTokens: result.promptTokens,
    document: result.prompt ? { ...result.prompt.document, questionAllowanceTokens: result.prompt.questionAllowance ? QUESTION_ALLOWANCE_TOKENS : 0 } : null,
    fits: selection.fits,
    lossy: selection.lossy,
    predictedBytes: selection.predictedBytes,
    freeBytes: result.freeBytes,
    marginBytes: result.marginBytes,
    contextSize: result.contextSize,
    expectedTtftMs: result.expectedTtft?.ms ?? null,
    expectedTtftBasis: result.expectedTtft?.basis ?? null,
    explanation: selection.explanation,
    notices: selection.notices,
    calibration: result.calibration,
    workers: result.workers
      ? { split: result.workers.split, perDevice: result.workers.perPlace, localFreeBytes: result.workers.localFreeBytes, skipped: result.workers.skipped }
      : null,
    dryRun: result.dryRun
      ? result.dryRun.contexts.map((c) => ({ stage: c.stage, contextSize: c.contextSize, ...totals(c.measured), formula: c.formula }))
      : null,
  };
}

function totals(memory: readonly BufferMemory[]): { modelBytes: number; kvBytes: number; computeBytes: number } {
  return memory.reduce((sum, m) => ({ modelBytes: sum.modelBytes + m.modelBytes, kvBytes: sum.kvBytes + m.kvBytes, computeBytes: sum.computeBytes + m.computeBytes }), { modelBytes: 0, kvBytes: 0, computeBytes: 0 });
}

function dryRunLines(result: DryRunResult): string[] {
  return result.contexts.map((c) => {
    const t = totals(c.measured);
    const stage = c.stage === 'prefill' ? 'full-size prefill context' : 'turn context';
    return `llama.cpp dry run, ${stage} (${c.contextSize.toLocaleString('en-US')} tokens): weights ${formatBytes(t.modelBytes)}, KV ${formatBytes(t.kvBytes)}, compute ${formatBytes(t.computeBytes)}`;
  });
}

function workerLines(workers: NonNullable<PlanResult['workers']>): string[] {
  return [
    ...(workers.split ? [`Split: ${workers.split.why}`] : ['Split: no worker answered, so everything stays on this machine']),
    ...(workers.perPlace ?? []).map(
      (p) =>
        `  ${p.endpoint ? `${p.place} (worker ${p.endpoint})` : p.place}: ${p.layers} layers, weights ${formatBytes(p.weightsBytes)}, KV ${formatBytes(p.kvBytes)}` +
        ` of ${formatBytes(p.freeBytes ?? workers.localFreeBytes)} free`,
    ),
    ...workers.skipped.map((line) => `Notice: ${line}`),
  ];
}

/** Which of the model's calibrated lengths auto read, and where it was measured. */
function calibrationLine(calibration: PlanResult['calibration']): string {
  if (!calibration) return 'Calibration: none for this model (sift calibrate measures it)';
  const tokens = (n: number) => `~${n.toLocaleString('en-US')}`;
  const others = calibration.lengths.filter((n) => n !== calibration.promptTokens);
  const where = calibration.source === 'shipped' ? 'shipped with Sift' : 'calibrated on this machine';
  return `Calibration: read at ${tokens(calibration.promptTokens)} tokens (${where}, ${calibration.measuredAt.slice(0, 10)})${others.length ? `; also measured at ${others.map(tokens).join(', ')}` : ''}`;
}

function documentLine(result: PlanResult): string {
  const { document, questionAllowance } = result.prompt!;
  const question = questionAllowance ? ` (no question given: ${QUESTION_ALLOWANCE_TOKENS} tokens left for one)` : ' with the question';
  return `Document: ${document.name}, ${document.characters.toLocaleString('en-US')} characters; the prompt is ${result.promptTokens.toLocaleString('en-US')} tokens${question}`;
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
        ...(result.prompt ? [documentLine(result)] : []),
        `Policy: ${selection.policy}${selection.fits ? '' : ' (does not fit)'}`,
        selection.explanation,
        ...(result.expectedTtft ? [`Expected first token: ${formatMs(result.expectedTtft.ms)} (${result.expectedTtft.basis})`] : []),
        `Predicted: weights ${formatBytes(bytes.model)}, KV ${formatBytes(bytes.kv)}, compute ${formatBytes(bytes.compute)}; peak ${formatBytes(bytes.peak)}, steady ${formatBytes(bytes.steady)}`,
        calibrationLine(result.calibration),
        ...(result.workers ? workerLines(result.workers) : []),
        ...(result.dryRun ? dryRunLines(result.dryRun) : []),
        ...selection.notices.map((n) => `Notice: ${n}`),
      ].join('\n') + '\n',
    );
  }
  return result.selection.fits ? 0 : 1;
}
