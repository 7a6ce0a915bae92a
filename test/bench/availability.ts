// What each engine can do, found by asking it rather than assumed: whether a row's policy is
// accepted (a policy the engine does not know yet is answered with BAD_POLICY), and whether
// probeLogits applies the policy it is given (today it always probes the full KV cache).
import type { LogitsProbeRequest } from '../../src-engine/forcedLogits.js';
import { EngineError } from '../../src-engine/engineError.js';
import type { EngineSlot } from './engines.js';
import type { BenchRow } from './suite.js';

export interface RowAvailability {
  available: boolean;
  /** Why a row is skipped, in words for the report. */
  note: string | null;
}

/** probeLogits with a policy: the field the engine needs to grow for fidelity of non-full rows. */
export type PolicyProbeRequest = LogitsProbeRequest & { policy: string };

const TINY_PROMPT = [{ role: 'user' as const, content: 'Say OK.' }];

/** One one-token turn with the row's policy; it also warms the process up. */
export async function checkRowAvailable(slot: EngineSlot, row: BenchRow): Promise<RowAvailability> {
  if (slot.problem) return { available: false, note: slot.problem };
  try {
    const { result } = slot.client.runTurn(
      { messages: TINY_PROMPT, sampling: { temperature: 0, topP: 1, maxTokens: 1 }, policy: row.policy },
      () => {},
    );
    await result;
    return { available: true, note: null };
  } catch (err) {
    if (err instanceof EngineError && err.code === 'BAD_POLICY') {
      return { available: false, note: `not available in this build (${slot.client.build.id}): ${err.message}` };
    }
    // any other engine error: this row cannot run, the others still can
    if (err instanceof EngineError) return { available: false, note: `its first turn failed (${err.code}): ${err.message}` };
    throw err;
  }
}

/**
 * True when probeLogits honours a policy: an engine that reads the field must reject a policy that
 * does not exist, one that ignores it probes the full cache and answers.
 */
export async function probeHonoursPolicy(slot: EngineSlot): Promise<boolean> {
  const request: PolicyProbeRequest = { messages: TINY_PROMPT, policy: 'no-such-policy' };
  try {
    await slot.client.probeLogits(request);
    return false;
  } catch (err) {
    if (err instanceof EngineError && err.code === 'BAD_POLICY') return true;
    throw err;
  }
}
