import { describe, expect, it } from 'vitest';
import { parseStoredMetrics } from '../../src-main/store/storedMetrics.js';

describe('stored turn metrics', () => {
  it("reads a chat saved before SimLayerKV's fields were renamed under today's names", () => {
    const saved = JSON.stringify({
      policy: 'simlayerkv:rule=prefill',
      perLayer: [
        { layer: 0, cells: 10, bytes: 100, lazy: false },
        { layer: 1, cells: 4, bytes: 40, lazy: true, sink: 4, window: 8 },
      ],
      layerDecision: { rule: 'prefill', delta: 0.9, scores: [0.2, 0.95], lazyLayers: [1], moveMs: 3 },
    });
    const metrics = parseStoredMetrics(saved);
    expect(metrics.perLayer.map((l) => l.trimmed)).toEqual([false, true]);
    expect(metrics.perLayer[1]).not.toHaveProperty('lazy');
    expect(metrics.simLayerKvDecision).toEqual({ rule: 'prefill', delta: 0.9, scores: [0.2, 0.95], trimmedLayers: [1], moveMs: 3 });
    expect(metrics).not.toHaveProperty('layerDecision');
  });

  it('leaves metrics under the current names as they are', () => {
    const current = { policy: 'full', perLayer: [{ layer: 0, cells: 1, bytes: 2, trimmed: false }], lazy: null, simLayerKvDecision: null };
    expect(parseStoredMetrics(JSON.stringify(current))).toEqual(current);
  });
});
