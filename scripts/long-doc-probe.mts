// Experiment: a pass key in real prose (the binder of the corpus sources), longer than the model's
// trained context, read through an evicting cache (issue 16 item 1). The documents, keys and
// prompts are the long bench's own (test/bench/longRun.ts), so a probe of one depth reproduces that
// bench cell; it prints how much of the needle the cache still held when the answer was written.
//   npx tsx scripts/long-doc-probe.mts <tokens> <depths> <policy> [<policy> ...]
// SIFT_PROBE_ONLY=3,4 runs only those depth indices (a 32k turn takes 3-10 minutes on 2 cores).
// A `window:<chars>` row is the control: the document cut to that many characters centred on the
// needle (whole paragraphs) and read with full KV, what the model finds without any eviction.
// SIFT_PROBE_DUMP=<dir> writes each turn's prompt, answer and kept character ranges there, for
// scripts/kept-replay.mts to read the kept text again with full KV.
import { mkdirSync, writeFileSync } from 'node:fs';
import type { ChatMessage, TurnMetrics } from '../src-common/engineTypes.js';
import { EngineClient } from '../src-main/engine/engineClient.js';
import { LONG_CONTEXT, longDepths, longPasskey, messages, sizedProse, withNeedle } from '../test/bench/longRun.js';

/** The user message with its document cut to `chars` characters around the needle, the question kept. */
function aroundNeedle(prompt: ChatMessage[], needle: string, chars: number): ChatMessage[] {
  return prompt.map((message) => {
    const at = message.content.indexOf(needle);
    if (message.role !== 'user' || at < 0) return message;
    const text = message.content;
    const start = text.lastIndexOf('\n\n', Math.max(0, at - chars / 2)) + 2;
    const end = text.indexOf('\n\n', at + chars / 2);
    const question = text.slice(text.lastIndexOf('\n\n') + 2);
    return { ...message, content: `${text.slice(start, end)}\n\n${question}` };
  });
}

/** With recall=N: how many tokens were read again next to the question, and whether the key was among them. */
function recallNote(eviction: TurnMetrics['eviction'], key: string): string {
  if (!eviction?.recalledTokens) return '';
  return `, recalled ${eviction.recalledTokens} tokens ${eviction.recalledText?.includes(key) ? 'with' : 'without'} the key`;
}

const [tokensArg, depthsArg, ...policies] = process.argv.slice(2);
const length = Number(tokensArg ?? 16384);
const depths = longDepths(Number(depthsArg ?? 3));
const client = await EngineClient.start({ build: 'patched' });
await client.loadModel({ path: `${process.env.HOME}/.cache/sift/models/${process.env.SIFT_MODEL ?? 'SmolLM2-135M-Instruct.Q4_1.gguf'}`, contextSize: LONG_CONTEXT });
const prose = await sizedProse(client, length);
const only = process.env.SIFT_PROBE_ONLY?.split(',').map(Number);
for (const [index, depth] of depths.entries()) {
  if (only && !only.includes(index)) continue;
  const key = longPasskey(index, length);
  const needle = `The pass key is ${key}.`;
  for (const row of policies) {
    // a `question-first/` row puts the question before the document too, as the long bench does
    const questionFirst = row.startsWith('question-first/');
    const window = /^window:(\d+)$/.exec(row);
    const policy = window ? 'full' : row.replace(/^question-first\//, '');
    const whole = messages(withNeedle(prose.text, depth, key), questionFirst);
    const prompt = window ? aroundNeedle(whole, needle, Number(window[1])) : whole;
    const user = prompt.findIndex((m) => m.role === 'user');
    const needleFrom = prompt[user]!.content.indexOf(needle);
    const { answer, metrics } = await client.runTurn({ messages: prompt, sampling: { temperature: 0, topP: 1, maxTokens: 16 }, policy, cachePrompt: false }, () => {}).result;
    // how much of the needle's first sentence the cache still held when the answer was written
    const ranges = metrics.kept?.messages?.find((m) => m.index === user)?.ranges ?? [];
    let held = 0;
    for (let i = 0; i < ranges.length; i += 2) held += Math.max(0, Math.min(ranges[i + 1]!, needleFrom + needle.length) - Math.max(ranges[i]!, needleFrom));
    const dump = process.env.SIFT_PROBE_DUMP;
    if (dump) {
      mkdirSync(dump, { recursive: true });
      const name = `${length}-${depth.toFixed(3)}-${row.replace(/[^a-z0-9=.]+/gi, '_')}.json`;
      writeFileSync(`${dump}/${name}`, JSON.stringify({ length, depth, policy: row, key, answer, prompt, kept: metrics.kept }));
    }
    console.log(
      `${depth.toFixed(3)} ${row}: ${answer.includes(key) ? 'FOUND' : 'lost'} needle held ${metrics.kept ? `${held}/${needle.length} chars` : 'whole (nothing evicted)'}${recallNote(metrics.eviction, key)} prompt ${metrics.promptTokens} ` +
        `ttft ${(metrics.ttftMs / 1000).toFixed(1)} s (${Math.round(metrics.prefillTokensPerSec)} tok/s) peak ${((metrics.kvBytesPeak ?? 0) / 2 ** 20).toFixed(0)} MiB “${answer.replace(/\s+/g, ' ')}” [${key}]`,
    );
  }
}
await client.close();
