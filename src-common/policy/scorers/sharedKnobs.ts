// Knobs more than one scorer takes, declared once.
import { COUNT } from '../knobPatterns.js';
import type { Knob } from '../press.js';

/** Queries whose attention scores tokens (score=window, SnapKV's observation window). */
export const QUERY_WINDOW_KNOB: Knob = { pattern: COUNT, default: '32', description: 'queries whose attention scores tokens, at least 1' };

export const REUSE_KNOB: Knob = {
  values: ['off', 'disk'],
  default: 'off',
  description: "with when=prompt: keep the prompt's full KV on disk so a follow-up loads it and selects again for its own question (disk), or prefill every turn anew (off)",
};
