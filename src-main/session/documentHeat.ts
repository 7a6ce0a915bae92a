// The document heatmap: what an evictor's cache kept of each attached document (or how deep a lazy
// prefill computed it), as weighted character ranges of the document's text. The engine reports
// them per message of the turn's request; a document sits in the first user message that holds its
// text (documentPrompt.ts trims it).
import type { ChatMessage, KeptText } from '../../src-common/engineTypes.js';

export function keptDocuments(kept: KeptText, messages: readonly ChatMessage[], documents: ReadonlyArray<{ id: string; text: string }>): KeptText {
  const byMessage = new Map((kept.messages ?? []).map((m) => [m.index, m]));
  const result: NonNullable<KeptText['documents']> = [];
  for (const document of documents) {
    const trimmed = document.text.trim();
    if (!trimmed) continue;
    const lead = document.text.length - document.text.trimStart().length;
    const index = messages.findIndex((m) => m.role === 'user' && m.content.includes(trimmed));
    const inMessage = index >= 0 ? byMessage.get(index) : undefined;
    if (!inMessage) continue;
    const start = messages[index]!.content.indexOf(trimmed);
    const end = start + trimmed.length;
    const ranges: number[] = [];
    const weights: number[] = [];
    for (let i = 0; i < inMessage.ranges.length; i += 2) {
      const from = Math.max(start, inMessage.ranges[i]!);
      const to = Math.min(end, inMessage.ranges[i + 1]!);
      if (to <= from) continue;
      ranges.push(from - start + lead, to - start + lead);
      weights.push(inMessage.weights?.[i / 2] ?? 1);
    }
    result.push({ documentId: document.id, chars: document.text.length, ranges, ...(inMessage.weights ? { weights } : {}) });
  }
  // the per-message ranges served only this: the stored metrics keep the documents'
  return { basis: kept.basis, keptTokens: kept.keptTokens, promptTokens: kept.promptTokens, documents: result };
}
