// `simlayerkv`: SimLayerKV. Layers whose attention falls on the first few and the most recent
// tokens (the paper's "lazy layers"; trimmed layers here) keep only those tokens' K/V, in a small cache of their own.
import { COUNT, LAYER_LIST, POSITIVE_NUMBER, atLeastOne, increasingLayers } from '../knobPatterns.js';
import { PolicySpecError } from '../policyError.js';
import { SIMLAYERKV_ARCHITECTURES } from '../architectures.js';
import { resolveTrimmedLayers } from '../simLayerKvLayers.js';
import type { PressDeclaration } from '../press.js';

/** SimLayerKV's threshold when neither the policy nor a calibrated profile gives one (Llama-3's). */
const DEFAULT_LAZY_DELTA = 0.9;

const perPrompt = (params: Readonly<Record<string, string>>) => params['rule'] === 'prefill' || params['rule'] === 'decode';

export const simLayerKvPress: PressDeclaration = {
  name: 'simlayerkv',
  title: 'SimLayerKV',
  role: 'layers',
  summary: 'SimLayerKV: layers that attend only to the first and the latest tokens keep only those',
  knobs: {
    delta: { pattern: POSITIVE_NUMBER, default: null, description: "laziness threshold above 0; above 1 no layer is lazy (default: the model's calibrated profile)" },
    layers: { pattern: LAYER_LIST, default: null, description: 'explicit trimmed layers, increasing, overriding delta and the profile (default: none, delta or the profile decide)' },
    sink: { pattern: COUNT, default: '4', description: 'initial tokens kept in trimmed layers' },
    window: { pattern: COUNT, default: '1024', description: 'recent tokens kept in trimmed layers, at least 1' },
    lastw: { pattern: COUNT, default: '32', description: 'last prompt queries whose attention decides which layers are lazy, at least 1' },
    rule: {
      values: ['profile', 'prefill', 'decode'],
      default: 'profile',
      description:
        "profile: layers= or the calibrated profile, small from the start; prefill / decode: decided per prompt after a full-size prefill, from the last lastw prompt queries or the first generated token, with delta (when not given: the profile's, else 0.9)",
    },
  },
  requires: { native: 'kvBudgets', architectures: SIMLAYERKV_ARCHITECTURES, flashAttention: 'any', profile: 'uses' },
  // the decode rule decides at the first answer token, after an evictor's round on the prompt has run
  excludes: [{ role: 'evictor', when: (p) => p['rule'] === 'decode', reason: 'simlayerkv:rule=decode does not combine with eviction yet (rule=profile and rule=prefill do)' }],
  fallback: 'trimmed no layer',
  hooks: ['context', 'afterPrefill', 'twoContext'],
  reports: 'simLayerKvDecision',
  parse(params) {
    if (perPrompt(params) && params['layers']) {
      throw new PolicySpecError(`simlayerkv:rule=${params['rule']} decides the layers itself; drop layers= (or use rule=profile)`);
    }
    let delta: number | null = null;
    if (params['delta'] !== undefined) {
      delta = Number(params['delta']);
      if (!(delta > 0)) throw new PolicySpecError(`simlayerkv:delta must be a positive number, not ${params['delta']}`);
    }
    return {
      simLayerKv: {
        delta,
        layers: params['layers'] ? increasingLayers('simlayerkv', 'layers', params['layers']) : null,
        sink: Number(params['sink']),
        window: atLeastOne('simlayerkv', 'window', params['window']!),
        lastW: atLeastOne('simlayerkv', 'lastw', params['lastw']!),
        rule: params['rule'] as 'profile' | 'prefill' | 'decode',
      },
    };
  },
  afterTurn: (policy) =>
    policy.simLayerKv?.rule === 'profile'
      ? { cache: 'whole' }
      : { cache: 'partial', reason: `SimLayerKV's ${policy.simLayerKv?.rule} rule decides the trimmed layers for each prompt anew` },
  describeTurn(metrics) {
    const decision = metrics.simLayerKvDecision;
    if (decision) return `${decision.rule} rule, delta ${decision.delta}: ${decision.trimmedLayers.length} trimmed layers (${decision.trimmedLayers.join(', ') || 'none'}), moved in ${Math.round(decision.moveMs)} ms`;
    const lazy = metrics.perLayer.filter((l) => l.trimmed);
    if (lazy.length === 0) return 'no layer trimmed';
    return `${lazy.length} of ${metrics.perLayer.length} layers keep only ${lazy[0]!.sink ?? 0} first and ${lazy[0]!.window ?? 0} recent tokens (${lazy.map((l) => l.layer).join(', ')})`;
  },
  planContext(policy, draft) {
    const trim = policy.simLayerKv!;
    const { rule, sink, window, lastW } = trim;
    if (rule !== 'profile') {
      // prefilled at full size, decided, then moved into the trimmed context (turnStages.ts)
      draft.layerRule = { rule, delta: trim.delta ?? draft.profile?.delta ?? DEFAULT_LAZY_DELTA, sink, window, lastW };
      draft.prefillShape = { ...draft.shape };
      return;
    }
    let resolved;
    try {
      resolved = resolveTrimmedLayers(trim, draft.model.layers, draft.profile);
    } catch (err) {
      throw new PolicySpecError((err as Error).message);
    }
    if (resolved.notice) draft.notices.push(resolved.notice);
    if (resolved.trimmedLayers.length > 0) Object.assign(draft.shape, { trimmedLayers: resolved.trimmedLayers, sink, window });
  },
};
