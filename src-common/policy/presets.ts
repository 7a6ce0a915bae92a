// The KV-policy presets the settings panel offers, each with what it trades in words. The words
// quote measurements (docs/BENCHMARKS.md) and name the task they come from; a preset not yet
// measured on real documents says so. Pure: the renderer imports it.

export interface PolicyPreset {
  spec: string;
  label: string;
  /** What it trades, measured, with the task named. */
  trade: string;
}

const SYNTHETIC = 'the synthetic pass-key task';
const NOT_ON_PROSE = 'Not yet measured on real documents.';
/** Where the measured figures come from: docs/BENCHMARKS.md, real-document QA, 20 depths each (SmolLM2 2026-12-02, Qwen 2026-12-06 at 2k, 2026-12-07 at 4k, 8k (10 questions) and eviction by sentences at 2k). */
const MEASURED_ON = 'SmolLM2-135M, 2 AMD EPYC cores';
const MEASURED_ON_QWEN = 'Qwen2.5-0.5B, 2 Intel Xeon cores';
const PROSE_LAZY_TRADE =
  `About 1.4× faster first token on real documents of 2k–8k tokens. Ranking whole sentences, it kept all 19 answers full KV got right at 4k and 9 of 10 at 8k (${MEASURED_ON_QWEN}); ` +
  `before it ranked sentences, 19 of 21 at 2k there and 4 of 4 at 2k (${MEASURED_ON}). Faster schedules kept fewer at 4k: 2.4× kept 18 of 19, 3.2× 16 of 19; the 4× pass-key schedule kept none.`;

const AUTO_TRADE =
  'Chosen before each answer from the free memory, the model and the prompt: the full cache when it fits, else a cache sized to the prompt or an 8-bit one (both near-exact); ' +
  'only when none fits, eviction of the least important tokens, with a warning. The info panel says what it chose and why.';

export const POLICY_PRESETS: readonly PolicyPreset[] = [
  { spec: 'auto', label: 'Automatic (recommended): fits the cache to the memory', trade: AUTO_TRADE },
  { spec: 'auto:prefer=exact', label: 'Automatic, exact answers only (refuses what does not fit)', trade: 'As Automatic, but never evicts or prunes: a document too large for the memory is refused with what would fit.' },
  {
    spec: 'auto:prefer=fast',
    label: 'Automatic, faster first token on long documents',
    trade: `As Automatic, and lazy prefill on prompts from 2,048 tokens where the model supports it. ${PROSE_LAZY_TRADE}`,
  },
  { spec: 'full', label: 'Full KV cache (exact)', trade: 'Exact: every other setting is measured against it. Reads the whole document at full cost.' },
  { spec: 'kv:type=q8_0', label: '8-bit KV cache (half the memory)', trade: `Half the KV memory. ${NOT_ON_PROSE}` },
  { spec: 'kv:type=q4_0', label: '4-bit KV cache (quarter memory)', trade: `A quarter of the KV memory. ${NOT_ON_PROSE}` },
  {
    spec: 'lazy',
    label: 'Lazy prefill (faster first token on long documents)',
    trade: PROSE_LAZY_TRADE,
  },
  {
    spec: 'lazy:schedule=balanced',
    label: 'Lazy prefill, balanced (faster first token, a little lossier)',
    trade:
      `About 2.4× faster first token at 4k and 2.5× at 8k on real documents, pruning earlier and harder than the default; it kept 18 of the 19 answers full KV got right at 4k and 8 of 10 at 8k (${MEASURED_ON_QWEN}), ` +
      'where the default kept 19 of 19 and 9 of 10. What it loses first is a question whose answer sits in a second passage that shares no word with the question.',
  },
  { spec: 'lazy+kv:type=q8_0', label: 'Lazy prefill + 8-bit KV cache', trade: `Lazy prefill's first token with half the KV memory. ${NOT_ON_PROSE}` },
  {
    spec: 'vatp:budget=0.25,chunk=sentence',
    label: 'Value-aware eviction (KV a quarter of the prompt)',
    trade:
      `KV a quarter of the prompt, chosen while the document is read, whole sentences at a time. On real documents of 2k tokens (${MEASURED_ON_QWEN}, budget 0.2) it kept 15 of the 21 answers full KV got right at 4× smaller KV; ` +
      `ranking token by token kept 8 (SmolLM2 at 1k: 4 of 9); on ${SYNTHETIC} (8k, token by token) it kept every pass key at 5.3× smaller KV.`,
  },
  {
    spec: 'vatp:budget=0.1,chunk=sentence,when=prompt,reuse=disk',
    label: 'Value-aware eviction, chosen per question (KV a tenth; fast follow-ups; full-size peak)',
    trade:
      `Chooses the sentences to keep after reading the question; follow-ups reuse the document from disk. Peak memory is a full cache. On real documents of 2k tokens (${MEASURED_ON_QWEN}) ` +
      'it kept 19 of the 21 answers full KV got right at 8× smaller KV (budget 0.2: 18 of 21), where ranking token by token kept 13; 17 of 19 at 4k and 9 of 10 at 8k.',
  },
  { spec: 'snapkv:budget=0.25', label: 'SnapKV eviction (KV a quarter of the prompt)', trade: `KV a quarter of the prompt. On real documents of 1k tokens (${MEASURED_ON}, budget 0.2) it kept only 1 of the 9 answers full KV got right.` },
  { spec: 'simlayerkv', label: 'Trim lazy-looking layers (after sift calibrate)', trade: `Layers that only look at the first and latest tokens keep only those. ${NOT_ON_PROSE}` },
  { spec: 'simlayerkv:rule=decode', label: 'Trim lazy-looking layers, decided per prompt (full-size peak)', trade: `Decides per prompt which layers to trim; peak memory is a full cache. ${NOT_ON_PROSE}` },
  { spec: 'simlayerkv+vatp:budget=0.25,pool=7+kv:type=q8_0', label: 'Trim + evict + 8-bit (smallest KV cache)', trade: `The smallest cache the presets offer. ${NOT_ON_PROSE}` },
];

export function presetFor(spec: string): PolicyPreset | undefined {
  return POLICY_PRESETS.find((p) => p.spec === spec);
}
