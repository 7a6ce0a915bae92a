// `sift ask`: one question, optionally about a document, answered through the same session
// service the app uses (so the answer and its metrics are saved like any chat), streamed to
// stdout, then the metrics; or, with --json, one JSON object.
import { loadOptionsFrom, loadSettingProblem, parseLoadSetting, type ModelLoadSettings } from '../../src-common/modelLoadSettings.js';
import { ModelLoadSettingsStore } from '../models/modelLoadSettingsStore.js';
import { parseArgs } from 'node:util';
import { describeTurn } from '../../src-common/turnSummary.js';
import { describeCpuCode, describeGpu, describeMemory } from '../../src-common/engineSummary.js';
import { EngineSupervisor } from '../models/engineSupervisor.js';
import { StoredLayerProfiles } from '../models/layerProfiles.js';
import { StoredFrontiers } from '../models/modelFrontiers.js';
import { PrefillTiming } from '../models/prefillTiming.js';
import { PolicySpecError } from '../../src-common/policy/policyError.js';
import { canonicalPolicySetting } from '../../src-common/policy/select.js';
import { formatMs, parseByteSize } from '../../src-common/format.js';
import { pressHelpText } from '../../src-common/policy/pressHelp.js';
import { attachDocumentFile } from '../session/documentAttach.js';
import { SessionService } from '../session/sessionService.js';
import { openStore } from '../store/index.js';
import { SavedCaches } from '../engine/savedCaches.js';
import type { MessageRow } from '../../src-common/storeTypes.js';
import type { BuildInfo, StatedMemory, TurnMetrics, WorkerSplit } from '../../src-common/engineTypes.js';
import { positiveWholeNumber, UsageError } from './usageError.js';
import { parseWorkerList, type WorkerAddress } from '../../src-common/workerAddress.js';

export const ASK_USAGE = `sift ask --model <file.gguf> [--file <document>] [--json] [--policy <spec>] "<question>"
  --model <path>       GGUF model file (or SIFT_MODEL)
  --file <path>        a document to ask about (pdf, docx, html, md, txt, code)
  --json               print one JSON object with the answer and the metrics
  --policy <spec>      KV policy: auto (default: chosen per turn from free memory, model and prompt;
                       auto:prefer=exact|balanced|fast), or presses joined by +, e.g. full, lazy,
                       simlayerkv+vatp:budget=0.25 (sift ask --help lists every press and knob)
  --free-ram <size>    auto: free RAM to plan with (e.g. 8gb), instead of the OS's figure
  --free-vram <size>   auto: free VRAM to plan with, when layers are offloaded to a GPU
  --margin <size>      auto: memory kept free beside the turn (default 10% of free, at least 256mb)
  --explain            print what the policy will do, and why, before the answer (stderr)
  --build <kind>       patched (default) or stock llama.cpp
  --context <tokens>   context size (default: the app's setting; auto is the model's, at most 16384)
  --threads <n>        CPU threads (default: the app's setting; auto is every core)
  --gpu-layers <n>     layers on the GPU, or auto (default: the app's setting)
  --flash-attention <on|off>  llama.cpp's fused attention (default: the app's setting, off)
  --workers <list>     sift worker addresses, host:port,… : layers split across them and this machine
  --max-tokens <n>     answer length limit (default 256)
  --temperature <t>    0 (default) is greedy
  --system <text>      system prompt`;

interface AskOptions {
  model: string;
  file: string | null;
  json: boolean;
  policy: string;
  build: 'patched' | 'stock';
  /** Load settings given on the command line; the rest come from the app's settings. */
  load: Partial<ModelLoadSettings>;
  maxTokens: number;
  temperature: number;
  system: string | null;
  question: string;
  /** auto's memory, when stated. */
  memory: StatedMemory | null;
  /** Print auto's decision (or the chosen policy's fit) before the answer. */
  explain: boolean;
  /** `sift worker` processes to split the model across. */
  workers: WorkerAddress[];
}

export function parseAskArgs(argv: string[]): AskOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        model: { type: 'string' },
        file: { type: 'string' },
        json: { type: 'boolean', default: false },
        policy: { type: 'string', default: 'auto' },
        'free-ram': { type: 'string' },
        'free-vram': { type: 'string' },
        explain: { type: 'boolean', default: false },
        margin: { type: 'string' },
        build: { type: 'string', default: 'patched' },
        context: { type: 'string' },
        threads: { type: 'string' },
        'gpu-layers': { type: 'string' },
        'flash-attention': { type: 'string' },
        workers: { type: 'string' },
        'max-tokens': { type: 'string' },
        temperature: { type: 'string' },
        system: { type: 'string' },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${ASK_USAGE}`);
  }
  const { values, positionals } = parsed;
  const question = positionals.join(' ').trim();
  if (!question) throw new UsageError(`a question is needed\n${ASK_USAGE}`);
  const model = values.model ?? process.env['SIFT_MODEL'];
  if (!model) throw new UsageError(`--model <file.gguf> is needed (or set SIFT_MODEL)\n${ASK_USAGE}`);
  if (values.build !== 'patched' && values.build !== 'stock') throw new UsageError('--build must be "patched" or "stock"');
  let policy: string;
  try {
    policy = canonicalPolicySetting(values.policy);
  } catch (error) {
    if (error instanceof PolicySpecError) throw new UsageError(`--policy: ${error.message}`);
    throw error;
  }
  const temperature = values.temperature === undefined ? 0 : Number(values.temperature);
  if (!Number.isFinite(temperature) || temperature < 0 || temperature > 2) throw new UsageError('--temperature must be between 0 and 2');
  const stated: StatedMemory = {};
  const freeRamBytes = byteSize(values['free-ram'], '--free-ram');
  const freeVramBytes = byteSize(values['free-vram'], '--free-vram');
  const marginBytes = byteSize(values.margin, '--margin');
  if (freeRamBytes !== undefined) stated.freeRamBytes = freeRamBytes;
  if (freeVramBytes !== undefined) stated.freeVramBytes = freeVramBytes;
  if (marginBytes !== undefined) stated.marginBytes = marginBytes;
  let workers: WorkerAddress[];
  try {
    workers = parseWorkerList(values.workers ?? '');
  } catch (error) {
    throw new UsageError(`--workers: ${(error as Error).message}`);
  }
  return {
    workers,
    memory: Object.keys(stated).length ? stated : null,
    explain: values.explain,
    model,
    file: values.file ?? null,
    json: values.json,
    policy,
    build: values.build,
    load: loadSettingFlags(values),
    maxTokens: positiveWholeNumber(values['max-tokens'], '--max-tokens') ?? 256,
    temperature,
    system: values.system ?? null,
    question,
  };
}

/** --context, --threads, --gpu-layers and --flash-attention, checked as the settings panel checks them. */
function loadSettingFlags(values: { context?: string; threads?: string; 'gpu-layers'?: string; 'flash-attention'?: string }): Partial<ModelLoadSettings> {
  const load: Partial<ModelLoadSettings> = {};
  const fields = [
    ['contextSize', '--context', values.context],
    ['threads', '--threads', values.threads],
    ['gpuLayers', '--gpu-layers', values['gpu-layers']],
  ] as const;
  for (const [field, flag, raw] of fields) {
    if (raw === undefined) continue;
    const problem = loadSettingProblem(field, raw);
    if (problem) throw new UsageError(`${flag}: ${problem}`);
    load[field] = parseLoadSetting(raw);
  }
  const flash = values['flash-attention'];
  if (flash !== undefined) {
    if (flash !== 'on' && flash !== 'off') throw new UsageError(`--flash-attention takes on or off, not "${flash}"`);
    load.flashAttention = flash === 'on';
  }
  return load;
}

function byteSize(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  const bytes = parseByteSize(raw);
  if (bytes === null) throw new UsageError(`${flag} takes a size such as 512mb or 2gb, not "${raw}"`);
  return bytes;
}

/** The JSON `sift ask --json` prints: stable field names, documented in docs/CLI.md. */
export function askJson(message: MessageRow, metrics: TurnMetrics, build: BuildInfo, extra: { sessionId: string; model: string; notice: string | null; workerSplit?: WorkerSplit | null }) {
  return {
    answer: message.content,
    status: message.status,
    promptTokens: metrics.promptTokens,
    prefillTokens: metrics.prefillTokens,
    // a cache saved on disk by an earlier question on the document (here or in the app)
    restored: metrics.conversation?.restored ?? null,
    generatedTokens: metrics.generatedTokens,
    ttftMs: metrics.ttftMs,
    totalMs: metrics.totalMs,
    prefillTokensPerSec: metrics.prefillTokensPerSec,
    decodeTokensPerSec: metrics.decodeTokensPerSec,
    kvBytesAllocated: metrics.kvBytesAllocated,
    kvBytesUsed: metrics.kvBytesUsed,
    kvBytesPeak: metrics.kvBytesPeak,
    kvBytesSteady: metrics.kvBytesSteady,
    memory: metrics.memory ?? null,
    // layers on `sift worker` processes (--workers); each one's bytes are in memory, by device
    workerSplit: extra.workerSplit ?? null,
    contextSize: metrics.contextSize,
    policy: metrics.policy,
    build: metrics.build,
    buildId: build.id,
    cpu: build.cpu,
    gpu: build.gpu,
    perLayer: metrics.perLayer,
    lazy: metrics.lazy,
    kept: metrics.kept ?? null,
    eviction: metrics.eviction,
    simLayerKvDecision: metrics.simLayerKvDecision ?? null,
    selection: metrics.selection ?? null,
    sessionId: extra.sessionId,
    model: extra.model,
    notice: metrics.notice ?? extra.notice,
  };
}

function metricsSummary(m: TurnMetrics, build: BuildInfo): string {
  return [
    `build ${build.kind} (${build.id}); engine ${describeCpuCode(build.cpu)}; ${describeGpu(build.gpu)}`,
    // `ask` is one turn in a process of its own: only a cache saved on disk reaches a next question
    ...describeTurn(m)
      .filter((fact) => fact.key !== 'conversation' || Boolean(m.conversation?.restored ?? m.conversation?.saved))
      .map((fact) => `${fact.label}: ${fact.value}`),
    ...(m.memory?.length ? [`Memory: ${describeMemory(m.memory)}`] : []),
  ].join('\n');
}

/** `sift ask --help`: the options, then every press and its knobs from their declarations. */
export const ASK_HELP = `${ASK_USAGE}

Presses for --policy (name:knob=value,knob=value; join presses with +):
${pressHelpText()}`;

export async function askCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${ASK_HELP}\n`);
    return 0;
  }
  const options = parseAskArgs(argv);
  // answers a killed CLI or app left streaming become 'interrupted'; a live app's are left alone
  const store = openStore();
  // the app's saved caches: a document asked about again (here or in the app) is restored
  let savedCaches: SavedCaches | null = null;
  const supervisor = new EngineSupervisor({
    prepare: (client) => savedCaches!.configure(client),
    build: options.build,
    workers: () => options.workers,
    loadOptions: () => loadOptionsFrom({ ...new ModelLoadSettingsStore(store.settings).get(), ...options.load }),
    onChange: () => {},
  });
  savedCaches = new SavedCaches(store.settings, store.dataDir, () => supervisor.engine());
  let finished: MessageRow | null = null;
  const service = new SessionService({
    store,
    supervisor,
    layerProfiles: new StoredLayerProfiles(store.modelProfiles),
    frontiers: new StoredFrontiers(store.modelProfiles),
    prefillTiming: new PrefillTiming(store.prefillSamples),
    ...(options.memory ? { memory: options.memory } : {}),
    emit: (event) => {
      if (event.type === 'turn.token' && !options.json) process.stdout.write(event.text);
      if (event.type === 'turn.finished') finished = event.message;
    },
  });
  const session = service.create();
  const onInterrupt = () => void service.stop(session.id);
  process.once('SIGINT', onInterrupt);
  try {
    service.updateSettings(session.id, {
      policy: options.policy,
      maxTokens: options.maxTokens,
      temperature: options.temperature,
      ...(options.system !== null ? { systemPrompt: options.system } : {}),
    });
    const documentIds = options.file ? [(await attachDocumentFile(store, session.id, options.file)).id] : [];
    await supervisor.load(options.model);
    if (supervisor.notice) process.stderr.write(`sift: ${supervisor.notice}\n`);
    const split = supervisor.model?.workerSplit;
    if (split) process.stderr.write(`sift: ${split.why}\n`);
    if (options.explain) {
      const preview = await service.preview(session.id, options.question, documentIds);
      const said = preview.auto ? `auto chose ${preview.policy}` : `policy ${preview.policy}`;
      const ttft = preview.expectedTtftMs !== null ? ` First token expected in about ${formatMs(preview.expectedTtftMs)} (${preview.expectedTtftBasis}).` : '';
      process.stderr.write(`sift: ${said} for ${preview.promptTokens} prompt tokens: ${preview.explanation ?? 'predicted to fit'}${ttft}\n`);
    }
    await service.send(session.id, options.question, documentIds);
    await service.whenIdle();

    const message = finished as MessageRow | null;
    if (!message) throw new Error('the answer did not finish');
    if (message.status === 'error') throw new Error(message.error ?? 'the engine failed');
    const build = supervisor.build;
    if (!message.metrics || !build) throw new Error('the answer finished without metrics');
    if (options.json) {
      const json = askJson(message, message.metrics, build, {
        sessionId: session.id,
        model: options.model,
        notice: supervisor.notice,
        workerSplit: supervisor.model?.workerSplit ?? null,
      });
      process.stdout.write(`${JSON.stringify(json)}\n`);
    } else {
      process.stdout.write(`\n\n${metricsSummary(message.metrics, build)}\n`);
    }
    return message.status === 'cancelled' ? 130 : 0;
  } finally {
    process.off('SIGINT', onInterrupt);
    await supervisor.close();
    // an ask that failed before its question was stored leaves no empty chat (nor its document)
    store.sessions.deleteIfEmpty(session.id);
    store.close();
  }
}
