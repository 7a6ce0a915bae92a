// Command-line options of `npm run bench`. Everything has a default; --help lists them.
import path from 'node:path';
import { parsePolicy } from '../../src-common/policy/spec.js';
import type { BenchMode } from './suite.js';
import { parseWorkerList, workerEndpoint } from '../../src-common/workerAddress.js';

/** Test models the bench can run on (scripts/testModels.ts). */
export const BENCH_MODELS = ['smollm2', 'gemma3', 'qwen2'] as const;
export type BenchModelId = (typeof BENCH_MODELS)[number];

export interface BenchOptions {
  mode: BenchMode;
  /** Read cached stock results (results are always written back, so --no-cache refreshes them). */
  useCache: boolean;
  /** Prompt lengths in tokens; null means the mode's default. */
  lengths: number[] | null;
  /** Needle depths per length; null means the mode's default. */
  depths: number | null;
  /** Only rows whose id contains one of these (their stock baselines are always kept); null: all. */
  rows: string[] | null;
  /** Follow-up cases per length for the KV-memory rows; null means the mode's default. */
  followUps: number | null;
  /** Teacher-forced fidelity prompts per length; null means the mode's default. */
  fidelityPrompts: number | null;
  /** Only the KV-memory rows (issue 5), with the rows they are compared with. */
  kvOnly: boolean;
  /** Folder that receives BENCHMARKS.md and bench/; docs/ by default. */
  outputDir: string;
  /** The real-document QA task (issue 13) instead of the synthetic pass-key suite. */
  prose: boolean;
  /** Follow-up questions on one document (issue 16): the conversation's cache reused against a re-read. */
  conversation: boolean;
  /** A document opened again (issue 16): the saved cache restored in a new engine against a cold read. */
  reopen: boolean;
  /** Documents longer than the context (issue 16): read whole through an evicting cache, against truncation. */
  long: boolean;
  /** --long: read back cells an earlier run measured with the same engine, build, model and prompt. */
  resume: boolean;
  /** Only rewrite BENCHMARKS.md's header and real-document frontier from the runs in bench/. */
  refreshFrontier: boolean;
  /** Seed of the prose documents, facts and questions. */
  seed: string | null;
  /** --policy: patched rows to add to the prose suite, as written (the policy grammar). */
  policies: string[];
  /** Which test model to run on. */
  model: BenchModelId;
  /**
   * --workers (issue 19): TTFT and decode speed with the layers split across `sift worker`
   * processes against one process: addresses given, or a count of workers to start on loopback.
   */
  workers: { addresses: string[] } | { loopback: number } | null;
  /** --auto (issue 15): auto's choice against every fixed policy that fits, under three memory limits. */
  auto: boolean;
  /** --ship-frontier (issue 15): the test model's frontier measured and written as the app's shipped file. */
  shipFrontier: boolean;
  /** --ship-add simlayerkv: only that family's policies, measured on the shipped length's questions and added to it (its layer profile measured and shipped first when none ships). */
  shipAdd: 'simlayerkv' | null;
  /** The command as typed, for the report. */
  command: string;
}

export const USAGE = `Usage: npm run bench -- [options]

  --prose            the real-document QA benchmark (issue 13): public-domain prose with invented facts
                     at 20 depths per length (1k/2k/4k/8k), paraphrased and two-passage questions in the
                     app's chat format, scored against the ground truth and against full KV's answers;
                     without it the synthetic pass-key suite runs
  --conversation     follow-up questions (issue 16): per policy and length (2k/4k/8k; --quick 1k/2k) a
                     real-prose document asked one question cold and two follow-ups, each follow-up's TTFT
                     and answer with the conversation's cache reused against the conversation read again
  --reopen           a document opened again (issue 16): per policy (8k; --quick 2k) a real-prose document
                     read cold in a fresh engine, then another question in a new engine process restoring
                     the saved cache, against the same prompt read whole
  --long             documents longer than the context (issue 16): a pass key in real prose of 8k, 32k
                     and 64k tokens (--quick 12k) at 10 depths (--quick 3) read whole on SmolLM2 (8k)
                     through an 8k evicting cache, against the first and last context-full read with full KV
  --resume           with --long: go on from an earlier run; every cell is kept as it is measured
                     (~/.cache/sift/bench-cache) and read back when the engine's code, the build, the
                     model and the prompt are the same; the report says which cells, measured where and when
  --auto             policy auto (issue 15): real-prose questions at 2k/4k/8k (--quick 2k) under three
                     memory limits (ample, tight, very tight), auto's choice against every fixed policy
                     that fits: correct answers and TTFT, and the regret against the best one
  --ship-frontier    the frontier auto reads (issue 15), measured as sift calibrate measures it (2k prompts,
                     8 fact depths; --lengths N, --depths N) and written as the app's shipped file
                     (resources/frontiers/<sha256>.json) with its section in BENCHMARKS.md
  --ship-add simlayerkv  with --ship-frontier: only SimLayerKV, on the questions of a length the file
                     holds (give its --depths), its row added there; the model's layer profile is
                     measured and shipped in the same file first when none ships
  --workers LIST|N    layers split across sift workers (issue 19): TTFT and decode tokens/s against one
                     process, at 1k and 4k (--lengths); LIST is host:port,… of running workers, N starts N
                     workers on this machine's loopback (both share its cores: a harness check, not a LAN)
  --refresh-frontier rewrite docs/BENCHMARKS.md's header and real-document frontier from docs/bench/*.json
                     (nothing is measured)
  --quick            1k and 2k prompts, fewer needle depths, fewer rows (a few minutes);
                     with --prose: 1k and 2k, 5 fact depths, stock/patched full, lazy, vatp:budget=0.2,pool=7
  --model ID         the test model: smollm2 (default), gemma3 or qwen2 (Qwen2.5-Coder-0.5B-Instruct);
                     the optional ones first: npm run fetch-models -- gemma3 qwen2
  --seed TEXT        seed of the prose documents and questions (default sift-prose-1)
  --no-cache         re-measure the stock rows instead of reading ~/.cache/sift/bench-cache
  --lengths 1k,4k    prompt lengths to run (tokens; k = 1024)
  --depths N         needle depths per length (with --prose: fact depths)
  --rows a,b         only rows whose id (build/policy/fa-on|fa-off) contains a or b, plus their stock baselines
                     (and, for KV-memory rows, the patched full-KV row their bytes are compared with)
  --row ID           like --rows with one filter taken as written, commas included
                     (e.g. --row 'vatp:budget=0.2,score=acc/'); may be repeated; with --conversation,
                     --reopen and --long, a filter ending in $ matches one row's policy whole
  --kv               only the KV-memory rows (issue 5) and the rows they are compared with, at 2k/4k/8k
                     unless --lengths says otherwise (--rows then filters among them)
  --follow-ups N     two-turn follow-up cases per length for the KV-memory rows (default 5; --quick 0)
  --fidelity-prompts N
                     teacher-forced fidelity prompts per length, needles at different depths (default 4; --quick 1)
  --policy SPEC      with --prose: a patched row running this policy (the --policy grammar), beside
                     the full-KV rows it is compared with; may be repeated (e.g. a lazy schedule
                     for a model of another depth)
  --output DIR       where BENCHMARKS.md and bench/ go (default: docs)
  --help             this text`;

export class UsageError extends Error {}

function parseLength(text: string): number {
  const match = /^(\d+)(k?)$/i.exec(text.trim());
  if (!match) throw new UsageError(`"${text}" is not a length such as 2048 or 2k`);
  return Number(match[1]) * (match[2] ? 1024 : 1);
}

export function parseOptions(argv: string[], cwd = process.cwd()): BenchOptions | 'help' {
  const options: BenchOptions = {
    mode: 'full',
    useCache: true,
    lengths: null,
    depths: null,
    rows: null,
    followUps: null,
    fidelityPrompts: null,
    kvOnly: false,
    prose: false,
    conversation: false,
    reopen: false,
    long: false,
    resume: false,
    refreshFrontier: false,
    seed: null,
    policies: [],
    model: 'smollm2',
    workers: null,
    auto: false,
    shipFrontier: false,
    shipAdd: null,
    outputDir: path.resolve(cwd, 'docs'),
    command: ['npm run bench', ...(argv.length ? ['--', ...argv] : [])].join(' '),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`${arg} needs a value`);
      return next;
    };
    if (arg === '--help' || arg === '-h') return 'help';
    else if (arg === '--quick') options.mode = 'quick';
    else if (arg === '--no-cache') options.useCache = false;
    else if (arg === '--kv') options.kvOnly = true;
    else if (arg === '--prose') options.prose = true;
    else if (arg === '--conversation') options.conversation = true;
    else if (arg === '--reopen') options.reopen = true;
    else if (arg === '--long') options.long = true;
    else if (arg === '--resume') options.resume = true;
    else if (arg === '--auto') options.auto = true;
    else if (arg === '--ship-frontier') options.shipFrontier = true;
    else if (arg === '--ship-add') {
      const family = value();
      if (family !== 'simlayerkv') throw new UsageError(`--ship-add takes simlayerkv, not "${family}"`);
      options.shipAdd = family;
    }
    else if (arg === '--refresh-frontier') options.refreshFrontier = true;
    else if (arg === '--workers') {
      const raw = value();
      if (/^\d+$/.test(raw)) {
        const count = Number(raw);
        if (count < 1 || count > 4) throw new UsageError('--workers N starts 1 to 4 loopback workers');
        options.workers = { loopback: count };
      } else {
        try {
          options.workers = { addresses: parseWorkerList(raw).map(workerEndpoint) };
        } catch (error) {
          throw new UsageError(`--workers: ${(error as Error).message}`);
        }
      }
    }
    else if (arg === '--seed') options.seed = value();
    else if (arg === '--policy') {
      const spec = value();
      try {
        parsePolicy(spec);
      } catch (error) {
        throw new UsageError(`--policy ${spec}: ${(error as Error).message}`);
      }
      options.policies.push(spec);
    }
    else if (arg === '--model') {
      const id = value();
      if (!(BENCH_MODELS as readonly string[]).includes(id)) throw new UsageError(`--model must be one of ${BENCH_MODELS.join(', ')}`);
      options.model = id as BenchModelId;
    }
    else if (arg === '--lengths') options.lengths = value().split(',').map(parseLength);
    else if (arg === '--depths') {
      const depths = Number(value());
      if (!Number.isInteger(depths) || depths < 1) throw new UsageError('--depths needs a whole number of at least 1');
      options.depths = depths;
    } else if (arg === '--follow-ups') {
      const count = Number(value());
      if (!Number.isInteger(count) || count < 0) throw new UsageError('--follow-ups needs a whole number of at least 0');
      options.followUps = count;
    } else if (arg === '--fidelity-prompts') {
      const count = Number(value());
      if (!Number.isInteger(count) || count < 1) throw new UsageError('--fidelity-prompts needs a whole number of at least 1');
      options.fidelityPrompts = count;
    } else if (arg === '--rows') options.rows = [...(options.rows ?? []), ...value().split(',').map((r) => r.trim()).filter(Boolean)];
    else if (arg === '--row') options.rows = [...(options.rows ?? []), value()];
    else if (arg === '--output') options.outputDir = path.resolve(cwd, value());
    else throw new UsageError(`unknown option ${arg}\n\n${USAGE}`);
  }
  if (options.resume && !options.long) throw new UsageError('--resume goes with --long (the runs that keep each cell as it is measured)');
  return options;
}
