import type { SessionSettings } from '../../src-common/storeTypes.js';

export const DEFAULT_SESSION_TITLE = 'New chat';

export const DEFAULT_SESSION_SETTINGS: Readonly<SessionSettings> = Object.freeze({
  systemPrompt:
    'You answer questions about the documents the user provides. Quote the passages you rely on, ' +
    'and say so when the documents do not contain the answer.',
  temperature: 0.2,
  topP: 0.9,
  maxTokens: 1024,
  // chosen per turn from free memory, model and prompt (src-common/policy/select.ts)
  policy: 'auto',
  kvBudget: 'auto',
});
