// Turns Sift's chat messages into the model's own chat template, ending with the assistant's
// turn header so the next token is the answer's first.
import { resolveChatWrapper, type ChatHistoryItem, type LlamaModel, type Token } from 'node-llama-cpp';
import type { ChatMessage } from './types.js';

function toHistory(messages: ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((m) => {
    if (m.role === 'system') return { type: 'system', text: m.content };
    if (m.role === 'user') return { type: 'user', text: m.content };
    return { type: 'model', response: [m.content] };
  });
  // an empty model turn makes the template end with the assistant header
  history.push({ type: 'model', response: [] });
  return history;
}

export function renderChatTokens(model: LlamaModel, messages: ChatMessage[]): Token[] {
  const wrapper = resolveChatWrapper(model);
  const { contextText } = wrapper.generateContextState({ chatHistory: toHistory(messages) });
  return contextText.tokenize(model.tokenizer);
}
