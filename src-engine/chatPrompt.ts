// Turns Sift's chat messages into the model's own chat template, ending with the assistant's
// turn header so the next token is the answer's first.
import { resolveChatWrapper, type ChatHistoryItem, type ChatWrapper, type LlamaModel, type Token } from 'node-llama-cpp';
import type { ChatMessage } from '../src-common/engineTypes.js';

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

// resolving compares the model's Jinja template against every known wrapper: ~0.7 s on two
// cores, paid on each turn and each composer preview until kept per model
const wrappers = new WeakMap<LlamaModel, ChatWrapper>();

function chatWrapperOf(model: LlamaModel): ChatWrapper {
  let wrapper = wrappers.get(model);
  if (!wrapper) {
    wrapper = resolveChatWrapper(model);
    wrappers.set(model, wrapper);
  }
  return wrapper;
}

/** Resolves the model's chat wrapper now (at load), so the first turn does not wait for it. */
export function prepareChatWrapper(model: LlamaModel): void {
  chatWrapperOf(model);
}

export function renderChatTokens(model: LlamaModel, messages: ChatMessage[]): Token[] {
  const wrapper = chatWrapperOf(model);
  const { contextText } = wrapper.generateContextState({ chatHistory: toHistory(messages) });
  return contextText.tokenize(model.tokenizer);
}

/** More question tokens than this are not worth observing: the scores are means over the queries. */
const MAX_QUESTION_WINDOW = 128;

/**
 * Where the question starts in the rendered prompt: the last user message ends with the question
 * after a blank line (composeUserMessage), so rendering the chat without it and comparing token by
 * token finds the first token that differs. Null when the last message is not a user's.
 */
export function questionStart(model: LlamaModel, messages: ChatMessage[], full = renderChatTokens(model, messages)): number | null {
  const last = messages.length - 1;
  const message = messages[last];
  if (!message || message.role !== 'user') return null;
  const cut = message.content.lastIndexOf('\n\n');
  const without = renderChatTokens(model, [...messages.slice(0, last), { ...message, content: cut > 0 ? message.content.slice(0, cut) : '' }]);
  let shared = 0;
  while (shared < full.length && shared < without.length && full[shared] === without[shared]) shared++;
  return shared;
}

/**
 * How many of the prompt's last tokens are the question and the template's tail (at most
 * MAX_QUESTION_WINDOW). Lazy prefill's question-aware scoring observes these tokens' attention.
 */
export function questionWindow(model: LlamaModel, messages: ChatMessage[]): number {
  const full = renderChatTokens(model, messages);
  const start = questionStart(model, messages, full);
  if (start === null) return Math.min(MAX_QUESTION_WINDOW, full.length);
  return Math.max(1, Math.min(MAX_QUESTION_WINDOW, full.length - start));
}
