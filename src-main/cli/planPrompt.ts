// The prompt `sift plan --file` plans for: the document read as the app reads it, composed with
// the question and the system prompt as a turn is, and counted with the model's own tokenizer and
// chat template. Only the vocabulary is loaded, never the weights: planning must stay cheap.
import path from 'node:path';
import type { ChatMessage } from '../../src-common/engineTypes.js';
import { renderChatTokens } from '../../src-engine/chatPrompt.js';
import { loadLlama } from '../../src-engine/loadLlama.js';
import { DocumentError, readDocument } from '../documents/index.js';
import { documentTooLongMessage, maxDocumentBytes, maxDocumentChars, maxDocumentTokens } from '../session/documentLimits.js';
import { composeUserMessage } from '../session/documentPrompt.js';
import { buildTurnMessages } from '../session/turnPlan.js';

/**
 * Room left for a question not given yet: about two sentences. A planned document is usually
 * planned before anyone has asked about it.
 */
export const QUESTION_ALLOWANCE_TOKENS = 64;

export interface PlannedPrompt {
  promptTokens: number;
  document: { name: string; characters: number };
  /** True when no question was given and QUESTION_ALLOWANCE_TOKENS stand in for it. */
  questionAllowance: boolean;
}

/** The turn's messages, as sessionService builds them for a first question on one document. */
export function planMessages(systemPrompt: string, document: { name: string; text: string }, question: string): ChatMessage[] {
  return [...buildTurnMessages(systemPrompt, [], new Map()), { role: 'user', content: composeUserMessage(question, [document]) }];
}

export async function countPlannedPrompt(options: { modelPath: string; filePath: string; question: string; systemPrompt: string }): Promise<PlannedPrompt> {
  const maxTokens = maxDocumentTokens();
  const extracted = await readDocument(options.filePath, { maxChars: maxDocumentChars(maxTokens), maxBytes: maxDocumentBytes() });
  if (extracted.truncated) throw new DocumentError('TOO_LARGE', documentTooLongMessage(extracted.name, maxTokens));
  const document = { name: extracted.name || path.basename(options.filePath), text: extracted.text };
  const question = options.question.trim();
  const messages = planMessages(options.systemPrompt, document, question);

  const { llama } = await loadLlama('patched');
  const model = await llama.loadModel({ modelPath: options.modelPath, vocabOnly: true });
  try {
    const tokens = renderChatTokens(model, messages).length;
    return {
      promptTokens: tokens + (question ? 0 : QUESTION_ALLOWANCE_TOKENS),
      document: { name: document.name, characters: document.text.length },
      questionAllowance: !question,
    };
  } finally {
    await model.dispose();
    await llama.dispose();
  }
}
