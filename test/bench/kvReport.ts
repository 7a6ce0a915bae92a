// The KV-memory part of a run's section (issue 5): bytes against full f16 with fidelity, passkey
// and follow-up accuracy beside them; issue 5's targets checked against the measurements; and VATP
// against H2O at equal budgets. Every figure comes from the results; nothing is estimated here.
import { parsePolicyParts } from '../../src-common/policy/spec.js';
import type { BenchResults, CellResult, RowReport } from './results.js';

/** A row label with SimLayerKV's layer list written as ranges (12/13/14/20 → 12–14/20), for tables and legends. */
export function compactLabel(label: string): string {
  return label.replace(/layers=([\d/]+)/g, (_match, list: string) => {
    const layers = list.split('/').map(Number);
    const ranges: string[] = [];
    for (let i = 0; i < layers.length; ) {
      let j = i;
      while (j + 1 < layers.length && layers[j + 1] === (layers[j] as number) + 1) j++;
      ranges.push(j > i ? `${layers[i]}–${layers[j]}` : String(layers[i]));
      i = j + 1;
    }
    return `layers=${ranges.join('/')}`;
  });
}

function label(rowsById: Map<string, RowReport>, id: string): string {
  return compactLabel(rowsById.get(id)?.label ?? id);
}

function lengthTag(length: number): string {
  return length % 1024 === 0 ? `${length / 1024}k` : String(length);
}

function mib(bytes: number | null): string {
  return bytes === null ? '—' : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

function table(header: string[], rows: string[][]): string {
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

/** "5.2× smaller" as a reduction factor from a bytes ratio (row / full). */
function reduction(ratio: number | null): string {
  return ratio === null || ratio <= 0 ? '—' : `${(1 / ratio).toFixed(2)}×`;
}

function percent(value: number, digits = 1): string {
  return `${(value * 100).toFixed(digits)}%`;
}

function top1(c: CellResult): string {
  const f = c.fidelity;
  if (f.status === 'reference') return 'reference';
  if (f.status !== 'measured') return f.status === 'failed' ? 'probe failed' : 'n/a';
  return percent(f.top1Agreement);
}

function meanKl(c: CellResult): string {
  const f = c.fidelity;
  if (f.status === 'reference') return 'reference';
  if (f.status !== 'measured') return '—';
  return f.meanKl === 0 ? '0' : f.meanKl.toExponential(2);
}

function followUp(c: CellResult): string {
  const f = c.kv?.followUp;
  if (!f) return '—';
  // turn 2's TTFT shows what reuse=disk saves (the whole conversation is prefilled again otherwise)
  return f.secondTtftMsMedian === null ? `${f.found}/${f.total}` : `${f.found}/${f.total} (turn 2 TTFT ${(f.secondTtftMsMedian / 1000).toFixed(1)} s)`;
}

function decode(c: CellResult): string {
  return c.decodeTokensPerSecMedian === null ? '—' : c.decodeTokensPerSecMedian.toFixed(1);
}

function eviction(c: CellResult): [string, string] {
  const e = c.kv?.eviction;
  if (!e) return ['—', '—'];
  const count = (v: number | null) => (v === null ? '—' : String(Math.round(v)));
  return [`${e.budgetTokens} (${count(e.keptTokens)})`, `${count(e.evicted)} in ${count(e.rounds)} rounds (${count(e.prefillRounds)} in prefill), ${count(e.evictMs)} ms`];
}

/** Cells of the KV-memory rows and their full-KV references, by length then declared row order. */
function kvCells(results: BenchResults): CellResult[] {
  const order = new Map(results.rows.map((r, i) => [r.id, i]));
  return results.cells
    .filter((c) => c.kv !== null)
    .sort((a, b) => a.length - b.length || (order.get(a.rowId) ?? 0) - (order.get(b.rowId) ?? 0));
}

export function kvTable(results: BenchResults, rowsById: Map<string, RowReport>): string | null {
  const cells = kvCells(results);
  if (cells.length === 0) return null;
  return table(
    [
      'length',
      'row',
      'context (tokens)',
      'KV peak',
      'KV steady',
      'smaller than full f16 (steady)',
      'passkey',
      'top-1 vs full',
      'mean KL (nats)',
      'follow-up',
      'decode tok/s',
      'decode vs full',
      'budget cells (kept per round)',
      'evicted per turn (median)',
    ],
    cells.map((c) => {
      const [budget, evicted] = eviction(c);
      const isReference = c.kv?.referenceId === c.rowId;
      return [
        lengthTag(c.length),
        label(rowsById, c.rowId),
        c.memory.contextSize === null ? '—' : String(Math.round(c.memory.contextSize)),
        mib(c.memory.kvBytesPeakMax),
        mib(c.memory.kvBytesSteadyMedian),
        isReference ? 'reference' : reduction(c.kv?.steadyRatio ?? null),
        `${c.passkey.found}/${c.passkey.total}`,
        top1(c),
        meanKl(c),
        followUp(c),
        decode(c),
        isReference ? 'reference' : c.kv?.decodeVsFull == null ? '—' : `${c.kv.decodeVsFull.toFixed(2)}×`,
        budget,
        evicted,
      ];
    }),
  );
}

/**
 * The reduction a row is held to: 5× for eviction or SimLayerKV, 10× when combined with q8_0; none
 * for quantization alone (a reference point, not a candidate).
 */
function reductionGoal(policy: string): number | null {
  try {
    const parts = parsePolicyParts(policy);
    const trims = parts.some((p) => p.name !== 'kv' && p.name !== 'full');
    if (!trims) return null;
    return parts.some((p) => p.name === 'kv' && p.params['type'] === 'q8_0') ? 10 : 5;
  } catch {
    return null;
  }
}

function yesNo(ok: boolean | null): string {
  return ok === null ? 'not measured' : ok ? 'yes' : 'no';
}

/**
 * Issue 5's targets at 8k (SmolLM2-135M-Instruct): steady KV ≥ 5× smaller than full f16 (≥ 10×
 * with q8_0), passkey within 2 points of full, top-1 ≥ 90%, decode tok/s not below full.
 */
export function targetsTable(results: BenchResults, rowsById: Map<string, RowReport>): { length: number; table: string } | null {
  const cells = kvCells(results);
  const longest = Math.max(0, ...cells.map((c) => c.length));
  const here = cells.filter((c) => c.length === longest && c.kv && c.kv.referenceId !== c.rowId);
  if (here.length === 0) return null;
  const body = here.map((c) => {
    const kv = c.kv!;
    const full = cells.find((r) => r.rowId === kv.referenceId && r.length === c.length);
    const factor = kv.steadyRatio === null ? null : 1 / kv.steadyRatio;
    const goal = reductionGoal(rowsById.get(c.rowId)?.policy ?? '');
    const delta = full && full.passkey.total > 0 && c.passkey.total > 0 ? (c.passkey.accuracy - full.passkey.accuracy) * 100 : null;
    const agreement = c.fidelity.status === 'measured' ? c.fidelity.top1Agreement : null;
    return [
      label(rowsById, c.rowId),
      goal === null
        ? `${factor === null ? '—' : `${factor.toFixed(2)}×`} (no goal: quantization alone)`
        : `${factor === null ? '—' : `${factor.toFixed(2)}×`} (goal ${goal}×): ${yesNo(factor === null ? null : factor >= goal)}`,
      reduction(kv.peakRatio),
      `${delta === null ? '—' : `${delta >= 0 ? '+' : ''}${delta.toFixed(1)} pts`}: ${yesNo(delta === null ? null : delta >= -2)}`,
      `${agreement === null ? '—' : percent(agreement)}: ${yesNo(agreement === null ? null : agreement >= 0.9)}`,
      `${kv.decodeVsFull === null ? '—' : `${kv.decodeVsFull.toFixed(2)}×`}: ${yesNo(kv.decodeVsFull === null ? null : kv.decodeVsFull >= 1)}`,
    ];
  });
  return {
    length: longest,
    table: table(
      ['row', 'steady KV smaller than full f16', 'peak smaller', 'passkey vs full (≥ −2 pts)', 'top-1 (≥ 90%)', 'decode vs full (≥ 1×)'],
      body,
    ),
  };
}

interface EvictionRow {
  method: string;
  budget: string;
  /** When tokens are chosen: while the prompt streams in (default) or once it is all in. */
  when: string;
}

/** A row whose policy is VATP or H2O alone (no SimLayerKV, no quantization). */
function evictionOnly(policy: string): EvictionRow | null {
  try {
    const parts = parsePolicyParts(policy);
    const part = parts[0];
    if (parts.length !== 1 || !part || !['vatp', 'h2o'].includes(part.name) || part.params['budget'] === undefined) return null;
    return { method: part.name, budget: part.params['budget'], when: part.params['when'] ?? 'stream' };
  } catch {
    return null;
  }
}

/** VATP against H2O at each budget and length where both ran: the issue's "VATP beats H2O" question. */
export function vatpVsH2oTable(results: BenchResults, rowsById: Map<string, RowReport>): string | null {
  const lines: string[][] = [];
  const lengths = [...new Set(results.cells.map((c) => c.length))].sort((a, b) => a - b);
  for (const length of lengths) {
    const here = results.cells.flatMap((c) => {
      const row = rowsById.get(c.rowId);
      const kind = c.length === length && row ? evictionOnly(row.policy) : null;
      return kind ? [{ c, kind }] : [];
    });
    // equal budget and equal timing (when=stream or when=prompt)
    const groups = [...new Set(here.map((h) => `${h.kind.budget} ${h.kind.when}`))].sort();
    for (const group of groups) {
      const [budget, when] = group.split(' ') as [string, string];
      const same = (h: (typeof here)[number]) => h.kind.budget === budget && h.kind.when === when;
      const h2o = here.find((h) => h.kind.method === 'h2o' && same(h));
      const vatps = here.filter((h) => h.kind.method === 'vatp' && same(h));
      if (!h2o || vatps.length === 0) continue;
      const h2oFidelity = h2o.c.fidelity.status === 'measured' ? h2o.c.fidelity : null;
      for (const entry of [h2o, ...vatps]) {
        const f = entry.c.fidelity.status === 'measured' ? entry.c.fidelity : null;
        let verdict = '—';
        if (entry !== h2o && f && h2oFidelity) {
          const dTop1 = (f.top1Agreement - h2oFidelity.top1Agreement) * 100;
          const klRatio = h2oFidelity.meanKl > 0 ? f.meanKl / h2oFidelity.meanKl : null;
          const better = f.top1Agreement >= h2oFidelity.top1Agreement && f.meanKl <= h2oFidelity.meanKl;
          const worse = f.top1Agreement <= h2oFidelity.top1Agreement && f.meanKl >= h2oFidelity.meanKl;
          verdict =
            `${dTop1 >= 0 ? '+' : ''}${dTop1.toFixed(1)} pts top-1, KL ${klRatio === null ? '—' : `${klRatio.toFixed(2)}×`}: ` +
            (better && !worse ? 'better' : worse && !better ? 'worse' : better && worse ? 'equal' : 'mixed');
        }
        lines.push([
          lengthTag(length),
          budget,
          when,
          label(rowsById, entry.c.rowId),
          top1(entry.c),
          meanKl(entry.c),
          `${entry.c.passkey.found}/${entry.c.passkey.total}`,
          followUp(entry.c),
          verdict,
        ]);
      }
    }
  }
  if (lines.length === 0) return null;
  return table(['length', 'budget', 'when', 'row', 'top-1 vs full', 'mean KL (nats)', 'passkey', 'follow-up', 'against H2O (fidelity)'], lines);
}

/** Follow-up cases that went wrong, with both answers, for the rows that ran them. */
export function followUpMisses(results: BenchResults, rowsById: Map<string, RowReport>): string[] {
  const lines: string[] = [];
  for (const c of kvCells(results)) {
    const f = c.kv?.followUp;
    if (!f || f.found === f.total) continue;
    const missed = f.trials
      .filter((t) => !t.found)
      .map(
        (t) =>
          `key at ${t.passkeyDepth.toFixed(2)}, code at ${t.doorDepth.toFixed(2)}: “${t.firstAnswer.replace(/\s+/g, ' ').slice(0, 40)}” then ` +
          `“${t.secondAnswer.replace(/\s+/g, ' ').slice(0, 40)}”`,
      );
    lines.push(`- ${lengthTag(c.length)} ${label(rowsById, c.rowId)}: ${missed.join('; ')}`);
  }
  return lines;
}
