// What the real-document QA benchmark (`npm run bench -- --prose`) runs: lengths, fact depths and
// rows. The rows are those of the pass-key suite that the issue asks to re-measure on real prose;
// --rows filters them the same way, and each kept row brings the full-KV rows it is compared with.
import { LAZY_SCHEDULES, SIMLAYERKV_LAYERS, evenDepths, rowId, type BenchMode, type BenchRow } from './suite.js';

export interface ProseSuite {
  mode: BenchMode;
  lengths: number[];
  /** Fact depths per length, fractions of a document; dealt to documents of up to 4 facts. */
  depths: number[];
  rows: BenchRow[];
  /** Longest answer generated: a short answer, the entity is in its first words. */
  answerTokens: number;
  /**
   * Each lossy row is also forced through patched full KV's answer and its next-token
   * distributions compared with full's (top-1 agreement, KL): the model's own answer as the
   * reference, sensitive where full itself answers few questions. Full mode only: it costs a
   * prefill per row and question.
   */
  forcedFidelity: boolean;
  seed: string;
}

/** Lazy schedules measured on prose only: the fact ranks say the pass-key schedules prune facts at layer 4. */
export const PROSE_LAZY_SCHEDULES = [
  'lazy:at=8/20/24,keep=0.7/0.6/0.5,window=question',
  // the same schedule scored by the last 8 tokens: what the question's own tokens add
  'lazy:at=8/20/24,keep=0.7/0.6/0.5,window=8',
  'lazy:at=8/16/24,keep=0.6/0.4/0.25,from=last,window=question',
];

const SIMLAYERKV = `simlayerkv:layers=${SIMLAYERKV_LAYERS},sink=4,window=256`;

function row(build: BenchRow['build'], policy: string, flashAttention: boolean, quick: boolean): BenchRow {
  return { build, policy, flashAttention, quick };
}

/** --quick: the stock and patched full rows, the default lazy schedule and the pooled VATP preset. */
export const PROSE_ROWS: BenchRow[] = [
  row('stock', 'full', false, true),
  row('patched', 'full', false, true),
  row('stock', 'full', true, false),
  row('patched', 'full', true, false),
  ...LAZY_SCHEDULES.map(({ policy }) => row('patched', policy, false, policy === 'lazy')),
  // chosen from the fact ranks on real prose (scripts/lazy-prose-scoring.mts): prune from layer 8,
  // scored by the question's own tokens
  ...PROSE_LAZY_SCHEDULES.map((policy) => row('patched', policy, false, false)),
  row('patched', 'vatp:budget=0.2,pool=7', false, true),
  row('patched', 'vatp:budget=0.2,pool=7,when=prompt', false, false),
  row('patched', 'vatp:budget=0.2,score=window', false, false),
  row('patched', 'vatp:budget=0.1,pool=7', false, false),
  row('patched', 'snapkv:budget=0.2', false, false),
  row('patched', 'keydiff:budget=0.2', false, false),
  row('patched', 'h2o:budget=0.2', false, false),
  row('patched', 'streaming:budget=0.2', false, false),
  row('patched', SIMLAYERKV, false, false),
  row('patched', `${SIMLAYERKV}+vatp:budget=0.2,score=window`, false, false),
  row('patched', 'kv:type=q8_0', true, false),
  row('patched', 'kv:type=q4_0', true, false),
  // lazy prefill, then one eviction round and the budget's context (issue 14's combinations)
  row('patched', 'lazy+vatp:budget=0.2,pool=7', false, false),
  row('patched', 'lazy+snapkv:budget=0.2', false, false),
  row('patched', 'lazy+vatp:budget=0.2,pool=7+kv:type=q8_0', true, false),
  // SimLayerKV's per-prompt rule, then one eviction round (when=prompt) in the trimmed context
  row('patched', 'simlayerkv:rule=prefill+vatp:budget=0.2,pool=7', false, false),
  row('patched', 'simlayerkv:rule=prefill+vatp:budget=0.2,pool=7+kv:type=q8_0', true, false),
];

export const PROSE_LENGTHS: Record<BenchMode, number[]> = { full: [1024, 2048, 4096, 8192], quick: [1024, 2048] };
export const PROSE_DEPTHS: Record<BenchMode, number> = { full: 20, quick: 5 };
/** Prompt tokens are at most this far below the nominal length: room for the answer. */
export const PROSE_RESERVE = 80;

/** The full-KV row of the same build a row's answers are compared with (same flash attention when it runs, else off). */
export function sameBuildFull(r: BenchRow, rows: readonly BenchRow[]): BenchRow | undefined {
  const full = rows.filter((x) => x.build === r.build && x.policy === 'full');
  return full.find((x) => x.flashAttention === r.flashAttention) ?? full.find((x) => !x.flashAttention);
}

/** The stock full-KV row with the same flash-attention setting: the TTFT baseline. */
export function stockFull(r: BenchRow, rows: readonly BenchRow[]): BenchRow | undefined {
  return rows.find((x) => x.build === 'stock' && x.policy === 'full' && x.flashAttention === r.flashAttention);
}

/** The patched full-KV row a row's KV bytes are compared with. */
export function patchedFull(r: BenchRow, rows: readonly BenchRow[]): BenchRow | undefined {
  return sameBuildFull({ ...r, build: 'patched' }, rows);
}

export function buildProseSuite(
  mode: BenchMode,
  overrides: { lengths?: number[] | null; depths?: number | null; rows?: string[] | null; seed?: string; policies?: string[] } = {},
): ProseSuite {
  // --policy: patched rows the suite does not declare (a schedule for another depth of model), run
  // whatever the filters say
  const extra = (overrides.policies ?? []).filter((p) => !PROSE_ROWS.some((r) => r.build === 'patched' && !r.flashAttention && r.policy === p)).map((p) => row('patched', p, false, false));
  const all = [...PROSE_ROWS, ...extra];
  const declared = PROSE_ROWS.filter((r) => mode === 'full' || r.quick);
  const filters = overrides.rows ?? null;
  const named = (r: BenchRow) => r.build === 'patched' && !r.flashAttention && (overrides.policies ?? []).includes(r.policy);
  const chosen = new Set([
    ...(filters || overrides.policies?.length ? declared.filter((r) => filters?.some((f) => rowId(r).includes(f))) : declared),
    ...all.filter(named),
  ]);
  if (chosen.size === 0) throw new Error(`no prose row matches ${(filters ?? []).join(', ')}; rows: ${declared.map(rowId).join(', ')}`);
  for (const r of [...chosen]) {
    for (const partner of [sameBuildFull(r, PROSE_ROWS), stockFull(r, PROSE_ROWS), patchedFull(r, PROSE_ROWS)]) if (partner) chosen.add(partner);
  }
  chosen.add(PROSE_ROWS[0] as BenchRow);
  const lengths = [...(overrides.lengths ?? PROSE_LENGTHS[mode])].sort((a, b) => a - b);
  if (lengths.some((l) => l - PROSE_RESERVE < 512)) throw new Error(`prose lengths must be at least ${512 + PROSE_RESERVE} tokens`);
  return {
    mode,
    lengths,
    depths: evenDepths(overrides.depths ?? PROSE_DEPTHS[mode]),
    rows: all.filter((r) => chosen.has(r)),
    answerTokens: 32,
    forcedFidelity: mode === 'full',
    seed: overrides.seed ?? 'sift-prose-1',
  };
}
