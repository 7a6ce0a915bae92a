// A model's first decode, run right after it loads (when the app asks): a few tokens evaluated in a
// small context of their own. An engine built for instructions this CPU does not run (ggml's AMX
// kernels on some Intel VMs, issue 17) dies here, at load, where the app can say it is the build
// and switch the variant off, rather than at the person's first question.
import { readFileSync, rmSync } from 'node:fs';
import type { LlamaModel, Token } from 'node-llama-cpp';

const TEXT = 'The quick brown fox jumps over the lazy dog. ';

export async function runFirstDecode(model: LlamaModel, threads: number | undefined): Promise<number> {
  const started = performance.now();
  forcedSignalForTests();
  const tokens = model.tokenize(TEXT.repeat(2)) as Token[];
  const context = await model.createContext({ contextSize: 64, ...(threads ? { threads } : {}) });
  try {
    // a batch of prompt tokens, then one more on its own: both kinds of matrix product a turn runs
    const sequence = context.getSequence();
    await sequence.evaluateWithoutGeneratingNewTokens(tokens);
    await sequence.evaluateWithoutGeneratingNewTokens([tokens[0]!]);
  } finally {
    await context.dispose();
  }
  return Math.round(performance.now() - started);
}

/**
 * Tests stand in for a CPU that lacks an instruction (none here does): the file named by
 * SIFT_TEST_FIRST_DECODE_SIGNAL_FILE holds a signal this process sends itself once, deleting the file.
 */
function forcedSignalForTests(): void {
  const file = process.env['SIFT_TEST_FIRST_DECODE_SIGNAL_FILE'];
  if (!file) return;
  let signal: string;
  try {
    signal = readFileSync(file, 'utf8').trim();
  } catch {
    return;
  }
  rmSync(file, { force: true });
  process.kill(process.pid, signal as NodeJS.Signals);
}
