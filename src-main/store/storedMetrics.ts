// Turn metrics as stored in messages.metrics, read back under today's names. SimLayerKV's fields
// were renamed on 2026-12-03 (layerDecision → simLayerKvDecision, lazyLayers → trimmedLayers,
// perLayer[].lazy → trimmed); chats saved before then still show what their turns did.
import type { TurnMetrics } from '../../src-common/engineTypes.js';

type Stored = Record<string, unknown>;

function renamed(object: Stored, from: string, to: string): Stored {
  if (!(from in object) || to in object) return object;
  const { [from]: value, ...rest } = object;
  return { ...rest, [to]: value };
}

export function parseStoredMetrics(json: string): TurnMetrics {
  let metrics = JSON.parse(json) as Stored;
  metrics = renamed(metrics, 'layerDecision', 'simLayerKvDecision');
  const decision = metrics['simLayerKvDecision'];
  if (decision && typeof decision === 'object') {
    metrics = { ...metrics, simLayerKvDecision: renamed(decision as Stored, 'lazyLayers', 'trimmedLayers') };
  }
  if (Array.isArray(metrics['perLayer'])) {
    metrics = { ...metrics, perLayer: (metrics['perLayer'] as Stored[]).map((layer) => renamed(layer, 'lazy', 'trimmed')) };
  }
  return metrics as unknown as TurnMetrics;
}
