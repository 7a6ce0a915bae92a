// Policy auto in the engine: what select.ts weighs for one prompt (the loaded model, the memory
// free now where the KV lives, this build's features), auto's choice for a turn, the warning for
// a policy the person chose that is predicted not to fit, and the composer's preview of both.
import os from 'node:os';
import type { Llama } from 'node-llama-cpp';
import type { EnginePreview } from '../src-common/contract.js';
import type { AutoSelectionMetrics, ModelInfo, StatedMemory, TurnRequest } from '../src-common/engineTypes.js';
import { computeBytesEstimate } from '../src-common/policy/computeBytes.js';
import type { PlanOptions } from '../src-common/policy/contextPlan.js';
import { PolicySpecError } from '../src-common/policy/policyError.js';
import { kvBudgetBytes } from '../src-common/policy/kvBudgetSetting.js';
import { kvRowBytes } from '../src-common/policy/kvBytes.js';
import { nearestFrontier } from '../src-common/policy/frontier.js';
import {
  DEFAULT_PREFERENCE,
  defaultMarginBytes,
  explicitPolicyWarning,
  parseAutoPolicy,
  predictPolicyBytes,
  selectPolicy,
  type AutoPolicy,
  type Preference,
  type Selection,
  type SelectionInput,
} from '../src-common/policy/select.js';
import { EngineError } from './engineError.js';

/** What the choice runs on: the build, the loaded model, its planning options and the context held now. */
export interface ChoiceHost {
  llama: Llama;
  info: ModelInfo;
  planOptions: PlanOptions;
  /** KV and compute bytes of the context open now: the turn's replaces it, so they count as free. */
  heldBytes: number;
}

export type AutoChoice = Selection & { auto: AutoPolicy; freeBytes: number; marginBytes: number };

/** The auto policy a request asks for, or null when it names presses (BAD_POLICY for a bad knob). */
export function requestedAuto(spec: string): AutoPolicy | null {
  try {
    return parseAutoPolicy(spec);
  } catch (err) {
    if (err instanceof PolicySpecError) throw new EngineError('BAD_POLICY', err.message);
    throw err;
  }
}

/** auto's choice for a prompt of `promptTokens`, from the memory free now or as the request states it. */
export async function chooseAuto(host: ChoiceHost, auto: AutoPolicy, promptTokens: number, request: TurnRequest): Promise<AutoChoice> {
  const input = await selectionInput(host, promptTokens, request, auto.preference);
  return { ...selectPolicy(input), auto, freeBytes: input.freeBytes, marginBytes: input.marginBytes };
}

/** A chosen policy's warning when it is predicted not to fit (it runs anyway), else null. */
export async function fitWarning(host: ChoiceHost, policy: string, promptTokens: number, request: TurnRequest): Promise<string | null> {
  return explicitPolicyWarning(await selectionInput(host, promptTokens, request, DEFAULT_PREFERENCE), policy);
}

/** What sending would do: auto's choice, or the chat's own policy and whether it fits. */
export async function previewTurn(host: ChoiceHost, request: TurnRequest, promptTokens: number, policy: string): Promise<Omit<EnginePreview, 'cachedTokens' | 'cacheSource'>> {
  const base = { promptTokens, contextSize: host.info.contextSize };
  const auto = requestedAuto(request.policy);
  if (auto) {
    const choice = await chooseAuto(host, auto, promptTokens, request);
    const { peak, kv } = choice.predictedBytes;
    return { ...base, policy: choice.policy, auto: true, fits: choice.fits, predictedPeakBytes: peak, predictedKvBytes: kv, explanation: choice.explanation };
  }
  const input = await selectionInput(host, promptTokens, request, DEFAULT_PREFERENCE);
  const warning = explicitPolicyWarning(input, policy);
  const { peak, kv } = predictPolicyBytes(input, policy);
  return { ...base, policy, auto: false, fits: warning === null, predictedPeakBytes: peak, predictedKvBytes: kv, explanation: warning };
}

/** What the turn's metrics keep of the choice. */
export function selectionMetrics(choice: AutoChoice): AutoSelectionMetrics {
  return {
    requested: choice.auto.spec,
    preference: choice.auto.preference,
    policy: choice.policy,
    lossy: choice.lossy,
    predictedBytes: choice.predictedBytes,
    freeBytes: choice.freeBytes,
    marginBytes: choice.marginBytes,
    memoryName: choice.memoryName,
    explanation: choice.explanation,
  };
}

async function selectionInput(host: ChoiceHost, promptTokens: number, request: TurnRequest, preference: Preference): Promise<SelectionInput> {
  const { info } = host;
  const memory = await freeMemory(host, request.memory ?? {});
  return {
    model: { ...info, weightsBytes: info.sizeBytes },
    promptTokens,
    answerTokens: request.sampling.maxTokens,
    freeBytes: memory.freeBytes,
    memoryName: memory.name,
    onGpu: memory.name === 'VRAM',
    weightsLoaded: true,
    marginBytes: request.memory?.marginBytes ?? defaultMarginBytes(memory.freeBytes),
    kvBudgetBytes: statedKvBudget(info, request.memory ?? {}),
    computeBytes: (shape) => computeBytesEstimate(info, shape),
    options: host.planOptions,
    profile: request.layerProfile ?? null,
    frontier: nearestFrontier(request.frontiers ?? [], promptTokens),
    preference,
  };
}

/** A stated KV budget in bytes: as given, or that many tokens of full-precision (f16) KV; null when none. */
function statedKvBudget(model: ModelInfo, stated: StatedMemory): number | null {
  if (stated.kvBudgetBytes !== undefined) return stated.kvBudgetBytes;
  if (stated.kvBudgetTokens !== undefined) return kvBudgetBytes({ kind: 'tokens', tokens: stated.kvBudgetTokens }, 2 * model.layers * kvRowBytes(model, 'f16'));
  return null;
}

/** Free bytes where the KV lives: the GPU's when layers are offloaded, else RAM; a stated figure wins. */
async function freeMemory(host: ChoiceHost, stated: StatedMemory): Promise<{ freeBytes: number; name: string }> {
  const split = host.info.workerSplit;
  if (split) {
    // layers (and their KV) split in proportion to each machine's free memory fit when the whole
    // fits in all of it: this machine's RAM plus what the workers report now (their devices are
    // this CPU build's only "GPUs")
    const here = stated.freeRamBytes ?? os.freemem() + host.heldBytes;
    const workers = (await host.llama.getVramState()).free;
    return { freeBytes: here + workers, name: `RAM here and on ${split.devices.length === 1 ? 'a worker' : `${split.devices.length} workers`}` };
  }
  if (host.info.offloadedLayers > 0) {
    const freeBytes = stated.freeVramBytes ?? (await host.llama.getVramState()).free + host.heldBytes;
    return { freeBytes, name: 'VRAM' };
  }
  return { freeBytes: stated.freeRamBytes ?? os.freemem() + host.heldBytes, name: 'RAM' };
}
