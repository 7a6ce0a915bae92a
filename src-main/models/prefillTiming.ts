// This machine's prefill rate per model, build and load settings, learnt from the turns it answers, and the time
// to first token a next turn can expect from it (src-common/policy/expectedTtft.ts). Only plain
// prefills count: every token read through every layer, nothing pruned or evicted on the way, no
// cache loaded from disk. Their TTFT is then the arithmetic of what they read at this machine's rate.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { expectedTtft, loadKeyOf, MIN_SAMPLE_TOKENS, prefillRate, type ExpectedTtft, type LoadedAs, type PrefillSample } from '../../src-common/policy/expectedTtft.js';
import type { ModelShape } from '../../src-common/policy/flops.js';
import { parsePolicy } from '../../src-common/policy/spec.js';
import type { StopReason, TurnMetrics } from '../../src-common/engineTypes.js';
import { modelFingerprint } from '../../src-engine/modelFingerprint.js';
import type { PrefillSampleRepository } from '../store/prefillSamples.js';

/** The turn as a rate sample, or null when its prefill was not plain (or too short to be a rate). */
export function prefillSampleOf(metrics: TurnMetrics, stopReason: StopReason): PrefillSample | null {
  if (stopReason === 'cancelled' || metrics.ttftMs <= 0) return null;
  if (metrics.prefillTokens < MIN_SAMPLE_TOKENS || metrics.prefillTokens > metrics.promptTokens) return null;
  // a cache loaded from disk, a save mid-prefill or a wait for a revival are in the TTFT too
  const conversation = metrics.conversation;
  if (conversation && (conversation.restored || conversation.saved || (conversation.revived?.waitedMs ?? 0) > 0)) return null;
  let policy;
  try {
    policy = parsePolicy(metrics.policy);
  } catch {
    return null;
  }
  // an 8-bit cache turns flash attention on, SimLayerKV's rules decide mid-prefill: other rates
  if (policy.lazy || policy.simLayerKv || policy.kvType !== 'f16' || metrics.lazy || metrics.simLayerKvDecision) return null;
  // a cache sized to the prompt (auto's streaming:budget=N) evicts nothing and prefills plainly
  if (metrics.eviction && (metrics.eviction.evicted > 0 || metrics.eviction.rounds > 0 || metrics.eviction.reuse)) return null;
  return { tokens: metrics.promptTokens, cachedTokens: metrics.promptTokens - metrics.prefillTokens, ttftMs: metrics.ttftMs };
}

export interface TimedModel {
  path: string;
  shape: ModelShape;
}

export class PrefillTiming {
  /** Fingerprints by path, size and modification time: a turn never reads the file twice. */
  private readonly fingerprints = new Map<string, { size: number; mtimeMs: number; fingerprint: Promise<string> }>();

  constructor(private readonly samples: PrefillSampleRepository) {}

  async record(modelPath: string, build: { id: string; cpu: { variant: string | null } }, loaded: LoadedAs, metrics: TurnMetrics, stopReason: StopReason): Promise<void> {
    const sample = prefillSampleOf(metrics, stopReason);
    if (!sample) return;
    this.samples.add({ modelFingerprint: await this.fingerprintOf(modelPath), buildId: build.id, loadKey: loadKeyOf(loaded) }, sample, build.cpu.variant);
  }

  async expected(model: TimedModel, buildId: string, loaded: LoadedAs, promptTokens: number, cachedTokens: number, policySpec: string): Promise<ExpectedTtft | null> {
    const key = { modelFingerprint: await this.fingerprintOf(model.path), buildId, loadKey: loadKeyOf(loaded) };
    const rate = prefillRate(model.shape, this.samples.recent(key));
    return expectedTtft(model.shape, rate, promptTokens, cachedTokens, parsePolicy(policySpec), loaded.onGpu);
  }

  private async fingerprintOf(modelPath: string): Promise<string> {
    const absolute = path.resolve(modelPath);
    const info = await stat(absolute);
    const hit = this.fingerprints.get(absolute);
    if (hit && hit.size === info.size && hit.mtimeMs === info.mtimeMs) return hit.fingerprint;
    const fingerprint = modelFingerprint(absolute);
    this.fingerprints.set(absolute, { size: info.size, mtimeMs: info.mtimeMs, fingerprint });
    fingerprint.catch(() => this.fingerprints.delete(absolute));
    return fingerprint;
  }
}
