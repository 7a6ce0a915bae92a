// Experiment (issue 16 item 1): when an evicting cache held the pass key and the model still missed
// it, is it the kept text, or where it sits? Reads what scripts/long-doc-probe.mts dumped
// (SIFT_PROBE_DUMP) and reads the kept characters again as a fresh prompt with full KV, as kept
// and rearranged: the needle's run moved after the other kept runs (next to the recent window), or
// the recent window left out. Only the document's message is rearranged; the question stays last.
//   npx tsx scripts/kept-replay.mts <dump.json> [<dump.json> ...]
import { readFileSync } from 'node:fs';
import type { ChatMessage, KeptText } from '../src-common/engineTypes.js';
import { EngineClient } from '../src-main/engine/engineClient.js';
import { LONG_CONTEXT } from '../test/bench/longRun.js';

interface Dump {
  depth: number;
  policy: string;
  key: string;
  answer: string;
  prompt: ChatMessage[];
  kept: KeptText | null;
}

/** The user message's kept runs: the ranked middle's, in document order, and the last (the recent window, ending with the question). */
function keptRuns(dump: Dump): { user: number; middle: string[]; recent: string } {
  const user = dump.prompt.findIndex((m) => m.role === 'user');
  const text = dump.prompt[user]!.content;
  const ranges = dump.kept?.messages?.find((m) => m.index === user)?.ranges ?? [0, text.length];
  const runs: string[] = [];
  for (let i = 0; i < ranges.length; i += 2) runs.push(text.slice(ranges[i]!, ranges[i + 1]!));
  return { user, middle: runs.slice(0, -1), recent: runs[runs.length - 1]! };
}

function withUser(dump: Dump, user: number, content: string): ChatMessage[] {
  return dump.prompt.map((message, index) => (index === user ? { ...message, content } : message));
}

const client = await EngineClient.start({ build: 'patched' });
await client.loadModel({ path: `${process.env.HOME}/.cache/sift/models/${process.env.SIFT_MODEL ?? 'SmolLM2-135M-Instruct.Q4_1.gguf'}`, contextSize: LONG_CONTEXT });
for (const file of process.argv.slice(2)) {
  const dump = JSON.parse(readFileSync(file, 'utf8')) as Dump;
  const { user, middle, recent } = keptRuns(dump);
  const needleRun = middle.findIndex((run) => run.includes(dump.key));
  const others = middle.filter((_, i) => i !== needleRun);
  const question = recent.slice(recent.lastIndexOf('\n\n') + 2);
  console.log(`${file}: the evicted cache answered “${dump.answer.replace(/\s+/g, ' ')}” [${dump.key}], kept ${dump.kept?.keptTokens}/${dump.kept?.promptTokens}, ${middle.length} middle runs, the key in run ${needleRun}`);
  const variants: Array<[string, string]> = [
    ['as kept', [...middle, recent].join('')],
    ['gaps marked', [...middle, recent].join(' … ')],
    ...(needleRun < 0
      ? []
      : ([
          ["the key's run moved last", [...others, middle[needleRun]!, recent].join('')],
          ['without the recent window', `${middle.join('')}\n\n${question}`],
        ] as Array<[string, string]>)),
  ];
  for (const [label, content] of variants) {
    const { answer, metrics } = await client.runTurn({ messages: withUser(dump, user, content), sampling: { temperature: 0, topP: 1, maxTokens: 16 }, policy: 'full', cachePrompt: false }, () => {}).result;
    console.log(`  ${label}: ${answer.includes(dump.key) ? 'FOUND' : 'lost'} “${answer.replace(/\s+/g, ' ')}” (${metrics.promptTokens} prompt tokens)`);
  }
}
await client.close();
