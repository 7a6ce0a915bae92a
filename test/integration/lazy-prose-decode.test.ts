// Issue 13: on real prose, a lazy turn with revival off lost a fact that the answer copies from the
// document, even when only the last layers were pruned. The decode mask hid every pruned token in
// every layer, including the layers before its prune point, where its K/V is valid (native patch
// 0013 gives each layer its own holes). The document is public text (CPython's IDLE help) with one
// inserted sentence; see test/fixtures/lazy-prose/README.md.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient } from '../../src-main/engine/engineClient.js';
import type { ChatMessage, TurnRequest } from '../../src-common/engineTypes.js';
import { composeUserMessage } from '../../src-main/session/documentPrompt.js';
import { DEFAULT_SESSION_SETTINGS } from '../../src-main/store/sessionDefaults.js';
import { testModelPath } from '../helpers/testModel.js';

const text = readFileSync(path.join(import.meta.dirname, '../fixtures/lazy-prose/idle-help.txt'), 'utf8');
const messages: ChatMessage[] = [
  { role: 'system', content: DEFAULT_SESSION_SETTINGS.systemPrompt },
  { role: 'user', content: composeUserMessage("What was the harbour master of Lindqvist's name?", [{ name: 'idle-help.txt', text }]) },
];

function request(policy: string): TurnRequest {
  return { messages, sampling: { temperature: 0, topP: 1, maxTokens: 20 }, policy };
}

describe('lazy turns with revival off on real prose', () => {
  let engine: EngineClient;
  let full: string;

  beforeAll(async () => {
    engine = await EngineClient.start({ build: 'patched' });
    await engine.loadModel({ path: testModelPath(), contextSize: 4096 });
    full = (await engine.runTurn(request('full'), () => {}).result).answer;
  });
  afterAll(async () => engine?.close());

  it('finds the fact with full KV (the reference)', () => {
    expect(full).toContain('Elsbeth Marrow');
  });

  it('pruning only the last six layers still copies the fact: earlier layers see every token', async () => {
    // before 0013 this answered "...'s name was Lindqvist.": decoding saw 30% of the prompt in all 30 layers
    const lazy = await engine.runTurn(request('lazy:at=24,keep=0.3'), () => {}).result;
    expect(lazy.metrics.lazy!.revived).toBe(0);
    expect(lazy.metrics.lazy!.pruned).toBeGreaterThan(0.6 * lazy.metrics.promptTokens);
    expect(lazy.answer).toBe(full);
  });
});
