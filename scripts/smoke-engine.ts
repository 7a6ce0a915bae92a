// `npm run setup`'s last step: each engine build loads the test model and decodes two tokens in
// its own process, so a build that cannot run on this CPU is found here, with what to do, instead
// of at a person's first question. Prints the CPU code each build runs.
//
// A CPU can report instructions it cannot run (ggml's AMX kernel dies of SIGILL on some Intel
// Xeon VMs, issue 17). In a `variants` build the engine client switches the variant that died off,
// and the decode is tried again with the next best one; a `native` build that dies so exits with code 3, which
// `npm run setup` answers by rebuilding with `--cpu variants`.
//
// SIFT_SMOKE_FORCE_SIGNAL=SIGILL makes the engine die that way at its first token, on the first
// SIFT_SMOKE_FORCE_ATTEMPTS attempts of each build (default: every attempt), for the tests of this
// script: no CPU here lacks an instruction the build uses.
import { describeCpuCode, describeGpu } from '../src-common/engineSummary.js';
import { cpuVariantStatePath, variantToDisable } from '../src-engine/cpuVariants.js';
import { EngineClient } from '../src-main/engine/engineClient.js';
import { readBuildRecord } from '../src-engine/nativeBuilds.js';
import { type BuildKind, type CpuInfo } from '../src-common/engineTypes.js';
import { EngineError } from '../src-engine/engineError.js';
import { testModelPath } from '../test/helpers/testModel.js';

/** Exit code when a native build died of SIGILL: setup rebuilds with CPU variants. */
const NATIVE_SIGILL_EXIT = 3;

const forcedSignal = process.env['SIFT_SMOKE_FORCE_SIGNAL'] as NodeJS.Signals | undefined;
const forcedAttempts = Number(process.env['SIFT_SMOKE_FORCE_ATTEMPTS'] ?? Infinity);

type Outcome = { ok: true } | { ok: false; signal: string | null; cpu: CpuInfo | null };

async function attempt(kind: BuildKind, forceSignal: boolean): Promise<Outcome> {
  let engine: EngineClient;
  try {
    engine = await EngineClient.start({ build: kind });
  } catch (error) {
    console.error(`[smoke] ${kind}: the engine could not start. ${error instanceof Error ? error.message : String(error)}`);
    return { ok: false, signal: null, cpu: null };
  }
  try {
    const model = await engine.loadModel({ path: testModelPath(), contextSize: 256 });
    const { result } = engine.runTurn(
      { messages: [{ role: 'user', content: 'Hi' }], sampling: { temperature: 0, topP: 1, maxTokens: 2 }, policy: 'full' },
      (event) => {
        if (forceSignal && forcedSignal && event.type === 'token' && engine.pid) process.kill(engine.pid, forcedSignal);
      },
    );
    const outcome = await result;
    console.log(
      `[smoke] ${kind}: decoded ${outcome.metrics.generatedTokens} tokens; ${describeCpuCode(engine.build.cpu)}; ` +
        describeGpu(engine.build.gpu, model.offloadedLayers, model.layers),
    );
    return { ok: true };
  } catch (error) {
    const message = error instanceof EngineError ? error.message : String(error);
    console.error(`[smoke] ${kind}: the engine could not answer on this machine. ${message}`);
    return { ok: false, signal: engine.exit?.signal ?? null, cpu: engine.build.cpu };
  } finally {
    await engine.close();
  }
}

/** 0 when the build decodes (perhaps after switching variants off), else the exit code for setup. */
async function smoke(kind: BuildKind): Promise<number> {
  for (let tries = 0; ; tries++) {
    const outcome = await attempt(kind, tries < forcedAttempts);
    if (outcome.ok) return 0;
    if (outcome.cpu === null) return 1;
    // the engine client has already switched that variant off
    const variant = variantToDisable({ signal: outcome.signal }, outcome.cpu);
    if (variant) {
      console.error(`[smoke] ${kind}: the ${variant} CPU variant is off on this machine now (${cpuVariantStatePath()}); trying the next best one`);
      continue;
    }
    if (outcome.signal === 'SIGILL' && outcome.cpu.build === 'native') return NATIVE_SIGILL_EXIT;
    return 1;
  }
}

const kinds = (['patched', 'stock'] as const).filter((kind) => readBuildRecord(kind) !== null);
let code = 0;
for (const kind of kinds) {
  const result = await smoke(kind);
  if (code === 0) code = result;
}
process.exit(code);
