// Turns a session's stored history into the engine's chat messages: the session's system prompt,
// then each question (composed with the documents attached to it) and each answer that has text.
import type { ChatMessage } from '../../src-common/engineTypes.js';
import type { MessageRow } from '../../src-common/storeTypes.js';
import { composeUserMessage, type AttachedDocument } from './documentPrompt.js';

export function buildTurnMessages(
  systemPrompt: string,
  history: MessageRow[],
  documentsById: ReadonlyMap<string, AttachedDocument>,
): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (systemPrompt.trim()) messages.push({ role: 'system', content: systemPrompt.trim() });
  for (const message of history) {
    if (message.role === 'user') {
      const documents = message.documentIds.flatMap((id) => {
        const document = documentsById.get(id);
        return document ? [document] : [];
      });
      messages.push({ role: 'user', content: composeUserMessage(message.content, documents) });
    } else if (message.role === 'assistant' && message.status !== 'streaming' && message.content.trim()) {
      // failed or stopped answers still carry context the user saw; empty ones carry nothing
      messages.push({ role: 'assistant', content: message.content });
    }
  }
  return messages;
}
