// A model's sliding-window layers from its GGUF metadata, as llama.cpp decides them: the file's
// own pattern (a list or a period) or the architecture's (models/<arch>.cpp), none without a window.
import { describe, expect, it } from 'vitest';
import { modelShapeFromMetadata } from '../../src-common/modelShape.js';

const metadata = (architecture: string, attention: Record<string, unknown>, layers = 12) => ({
  general: { architecture },
  [architecture]: { block_count: layers, embedding_length: 64, attention: { head_count: 4, head_count_kv: 2, ...attention } },
});

describe('sliding-window layers', () => {
  it("follow the architecture's pattern: gemma2 every other layer, gemma3 five of six", () => {
    expect(modelShapeFromMetadata(metadata('gemma2', { sliding_window: 4096 }, 6))).toMatchObject({ slidingWindow: 4096, slidingLayers: [0, 2, 4] });
    expect(modelShapeFromMetadata(metadata('gemma3', { sliding_window: 512 }, 12)).slidingLayers).toEqual([0, 1, 2, 3, 4, 6, 7, 8, 9, 10]);
  });

  it("take the file's own pattern first, as a period or a list", () => {
    expect(modelShapeFromMetadata(metadata('gemma3', { sliding_window: 512, sliding_window_pattern: 3 }, 6)).slidingLayers).toEqual([0, 1, 3, 4]);
    expect(modelShapeFromMetadata(metadata('gemma3', { sliding_window: 512, sliding_window_pattern: [true, false, true, false] }, 4)).slidingLayers).toEqual([0, 2]);
  });

  it('are none without a window, or for an architecture that does not slide', () => {
    expect(modelShapeFromMetadata(metadata('gemma3', {}, 6))).toMatchObject({ slidingWindow: 0, slidingLayers: [] });
    expect(modelShapeFromMetadata(metadata('llama', { sliding_window: 4096 }, 6)).slidingLayers).toEqual([]);
  });
});
