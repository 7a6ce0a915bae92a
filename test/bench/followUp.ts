// Follow-up accuracy: two greedy turns on one document with two needles. Turn 1 asks for the pass
// key; turn 2 is the conversation so far (the question and the row's own answer) plus a question
// about the door code. Turn 2 runs as in the app: a policy whose cache is whole reuses what turn 1
// left; an eviction policy goes on from the tokens it kept for the first question and selects again
// among them and the new ones (followup=kept, the default), or reads the conversation again and
// selects anew for the second question (followup=reread), or restores it from disk (reuse=disk).
import type { EngineClient } from '../../src-main/engine/engineClient.js';
import type { ChatMessage, TurnMetrics } from '../../src-common/engineTypes.js';
import { engineExtras, type EngineExtras } from './engineExtras.js';
import type { ActiveTurn } from './passkeyTurn.js';
import { answerHasPasskey, FOLLOW_UP_QUESTION, type FollowUpCase } from './prompts.js';

export interface FollowUpSample {
  index: number;
  passkeyDepth: number;
  doorDepth: number;
  firstAnswer: string;
  /** Turn 1 named the pass key. */
  firstFound: boolean;
  secondAnswer: string;
  /** Turn 2 named the door code: the follow-up accuracy. */
  found: boolean;
  /** Turn 2's prompt (the whole conversation) and what the engine reported for it. */
  promptTokens: number;
  ttftMs: number;
  extras: EngineExtras;
}

async function greedyTurn(
  client: EngineClient,
  policy: string,
  messages: ChatMessage[],
  maxTokens: number,
  onStart: (turn: ActiveTurn | null) => void,
  cachePrompt: boolean,
): Promise<{ answer: string; metrics: TurnMetrics }> {
  const running = client.runTurn({ messages, sampling: { temperature: 0, topP: 1, maxTokens }, policy, cachePrompt }, () => {});
  onStart({ client, turnId: running.turnId });
  try {
    const { answer, metrics, stopReason } = await running.result;
    if (stopReason === 'cancelled') throw new Error('the turn was cancelled');
    return { answer, metrics };
  } finally {
    onStart(null);
  }
}

export async function runFollowUp(
  client: EngineClient,
  policy: string,
  task: FollowUpCase,
  maxTokens: number,
  onStart: (turn: ActiveTurn | null) => void,
): Promise<FollowUpSample> {
  // turn 1 reads its document cold (nothing of an earlier case reused); turn 2 runs as the app's would
  const first = await greedyTurn(client, policy, task.messages, maxTokens, onStart, false);
  const conversation: ChatMessage[] = [
    ...task.messages,
    { role: 'assistant', content: first.answer },
    { role: 'user', content: FOLLOW_UP_QUESTION },
  ];
  const second = await greedyTurn(client, policy, conversation, maxTokens, onStart, true);
  return {
    index: task.index,
    passkeyDepth: task.passkeyDepth,
    doorDepth: task.doorDepth,
    firstAnswer: first.answer,
    firstFound: answerHasPasskey(first.answer, task.passkey),
    secondAnswer: second.answer,
    found: answerHasPasskey(second.answer, task.doorCode),
    promptTokens: second.metrics.promptTokens,
    ttftMs: second.metrics.ttftMs,
    extras: engineExtras(second.metrics),
  };
}
