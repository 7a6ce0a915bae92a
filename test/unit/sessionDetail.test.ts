import { describe, expect, it } from 'vitest';
import type { MessageRow, TurnMetrics } from '../../src-common/contract.js';
import { withLatestLayerStatsOnly } from '../../src-main/session/sessionDetail.js';

const layers = [{ layer: 0, cells: 10, bytes: 100, trimmed: false, computed: 10, keys: 10 }];

function message(id: string, role: MessageRow['role'], perLayer: typeof layers | null): MessageRow {
  const metrics = perLayer ? ({ ttftMs: 5, perLayer } as unknown as TurnMetrics) : null;
  return { id, sessionId: 's', role, content: id, status: 'complete', createdAt: 0, updatedAt: 0, metrics, error: null, documentIds: [] };
}

describe('opening a chat', () => {
  it('keeps per-layer statistics on the latest answer with metrics only, and everything else as stored', () => {
    const stored = [
      message('q1', 'user', null),
      message('a1', 'assistant', layers),
      message('q2', 'user', null),
      message('a2', 'assistant', layers),
      message('q3', 'user', null),
      message('a3', 'assistant', null), // an answer still streaming has no metrics yet
    ];
    const sent = withLatestLayerStatsOnly(stored);
    expect(sent.map((m) => m.metrics?.perLayer.length ?? null)).toEqual([null, 0, null, 1, null, null]);
    expect(sent[1]!.metrics?.ttftMs).toBe(5);
    expect(stored[1]!.metrics?.perLayer).toHaveLength(1); // the stored rows are not changed
    expect(sent[3]).toBe(stored[3]);
  });

  it('leaves a chat without metrics as it is', () => {
    const stored = [message('q1', 'user', null)];
    expect(withLatestLayerStatsOnly(stored)).toEqual(stored);
  });
});
