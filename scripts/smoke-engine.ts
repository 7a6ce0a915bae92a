// `npm run setup`'s last step: each engine build loads the test model and decodes two tokens in
// its own process, so a build that cannot run on this CPU (a SIGILL in ggml's AMX kernels on some
// Intel Xeons) is found here, with what to do, instead of at a person's first question. Prints
// the CPU features each build uses.
//
// SIFT_SMOKE_FORCE_SIGNAL=SIGILL makes the engine die that way at its first token (for the test
// of this script: no CPU here lacks an instruction the build uses).
import { EngineClient } from '../src-main/engine/engineClient.js';
import { readBuildRecord } from '../src-main/engine/nativeBuilds.js';
import { EngineError, type BuildKind } from '../src-main/engine/types.js';
import { testModelPath } from '../test/helpers/testModel.js';

const forcedSignal = process.env['SIFT_SMOKE_FORCE_SIGNAL'] as NodeJS.Signals | undefined;

async function smoke(kind: BuildKind): Promise<boolean> {
  const engine = await EngineClient.start({ build: kind });
  try {
    await engine.loadModel({ path: testModelPath(), contextSize: 256 });
    const { result } = engine.runTurn(
      { messages: [{ role: 'user', content: 'Hi' }], sampling: { temperature: 0, topP: 1, maxTokens: 2 }, policy: 'full' },
      (event) => {
        if (forcedSignal && event.type === 'token' && engine.pid) process.kill(engine.pid, forcedSignal);
      },
    );
    const outcome = await result;
    console.log(`[smoke] ${kind}: decoded ${outcome.metrics.generatedTokens} tokens; CPU features: ${engine.build.cpuFeatures.join(', ') || 'none reported'}`);
    return true;
  } catch (error) {
    const message = error instanceof EngineError ? error.message : String(error);
    console.error(`[smoke] ${kind}: the engine could not answer on this machine. ${message}`);
    return false;
  } finally {
    await engine.close();
  }
}

const kinds = (['patched', 'stock'] as const).filter((kind) => readBuildRecord(kind) !== null);
let ok = true;
for (const kind of kinds) ok = (await smoke(kind)) && ok;
process.exit(ok ? 0 : 1);
