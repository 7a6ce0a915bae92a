// The rows of a run as this engine sees them: each row's engine process, whether the engine
// accepts its policy (found by asking, see availability.ts), and whether its fidelity can be probed.
import { checkRowAvailable, probeHonoursPolicy } from './availability.js';
import { slotKey, type EnginePool, type EngineSlot } from './engines.js';
import type { Progress } from './progress.js';
import { rowId, rowLabel, type BenchRow } from './suite.js';

export interface RowState {
  row: BenchRow;
  id: string;
  slot: EngineSlot;
  available: boolean;
  note: string | null;
  /** Whether its fidelity can be measured: full-KV rows always, others once probeLogits takes a policy. */
  probeable: boolean;
  /** Set when the row's turns failed mid-run; it is left out from then on. */
  failure: string | null;
}

export async function prepareRows(rows: readonly BenchRow[], pool: EnginePool, progress: Progress): Promise<RowState[]> {
  // start every process first, in parallel: model loading overlaps
  const slots = new Map<string, EngineSlot>();
  await Promise.all(
    rows.map(async (row) => {
      slots.set(slotKey(row.build, row.flashAttention), await pool.open(row.build, row.flashAttention));
    }),
  );
  const honours = new Map<EngineSlot, boolean>();
  const states: RowState[] = [];
  for (const row of rows) {
    const slot = slots.get(slotKey(row.build, row.flashAttention)) as EngineSlot;
    const availability = await checkRowAvailable(slot, row);
    let probeable = row.policy === 'full';
    if (availability.available && !probeable) {
      if (!honours.has(slot)) honours.set(slot, await probeHonoursPolicy(slot));
      probeable = honours.get(slot) ?? false;
    }
    states.push({ row, id: rowId(row), slot, available: availability.available, note: availability.note, probeable, failure: null });
    const status = availability.available ? `ready (${slot.client.build.id}, pid ${slot.client.pid})` : `skipped, ${availability.note}`;
    progress.note(`${rowLabel(row)}: ${status}`);
  }
  return states;
}
