// What opening a chat sends the renderer: the stored messages, lightened where the UI never looks.
import type { MessageRow } from '../../src-common/contract.js';

/**
 * Drops per-layer statistics and the document heatmap from every answer but the latest that has
 * metrics (see SessionDetail): the panels show the latest answer's.
 */
export function withLatestLayerStatsOnly(messages: MessageRow[]): MessageRow[] {
  let latest = -1;
  for (let i = messages.length - 1; i >= 0 && latest < 0; i--) if (messages[i]!.metrics) latest = i;
  return messages.map((message, i) => {
    const metrics = message.metrics;
    if (i === latest || !metrics || (!metrics.perLayer.length && !metrics.kept)) return message;
    return { ...message, metrics: { ...metrics, perLayer: [], kept: null } };
  });
}
