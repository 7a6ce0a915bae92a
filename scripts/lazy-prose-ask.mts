// Issue 13: free-running greedy answers to questions about one real-prose fixture (test/fixtures/lazy-prose)
// under one policy, in the app's chat format (default system prompt, document then question).
// Usage: [SIFT_MODEL=file.gguf] npx tsx scripts/lazy-prose-ask.mts <doc> <policy> "<question>" [...]
import { readFileSync } from 'node:fs';
import { EngineClient } from '../src-main/engine/engineClient.js';
import { composeUserMessage } from '../src-main/session/documentPrompt.js';
import { DEFAULT_SESSION_SETTINGS } from '../src-main/store/sessionDefaults.js';
const [doc, policy, ...qs] = process.argv.slice(2);
const client = await EngineClient.start({ build: 'patched' });
await client.loadModel({ path: `${process.env.HOME}/.cache/sift/models/${process.env.SIFT_MODEL ?? 'SmolLM2-135M-Instruct.Q4_1.gguf'}`, contextSize: 4096 });
const text = readFileSync(`${import.meta.dirname}/../test/fixtures/lazy-prose/${doc}.txt`, 'utf8');
for (const q of qs) {
  const messages = [{ role: 'system' as const, content: DEFAULT_SESSION_SETTINGS.systemPrompt }, { role: 'user' as const, content: composeUserMessage(q, [{ name: `${doc}.txt`, text }]) }];
  const t = performance.now();
  const { answer, metrics } = await client.runTurn({ messages, sampling: { temperature: 0, topP: 1, maxTokens: 20 }, policy }, () => {}).result;
  console.log(doc, policy, JSON.stringify(q), '=>', JSON.stringify(answer), metrics.promptTokens, ((performance.now() - t) / 1000).toFixed(1) + 's');
}
await client.close();
