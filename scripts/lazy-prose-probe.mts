// Issue 13 diagnostic: real-prose documents (test/fixtures/lazy-prose) with one inserted fact, asked
// in the app's chat format. For each document: full KV's greedy answer (the reference), then each
// policy's teacher-forced logits over those tokens. Row 0 is the pruned prefill's own last-token
// logits; rows 1.. are decode steps (with revive=off they attend only to what the mask leaves).
//
// Usage: npx tsx scripts/lazy-prose-probe.mts [--docs a,b] [--policies p1;p2] [--tokens 16]
// (SIFT_NATIVE_DIR picks the build; one model process, ~3k-token prompts.)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { EngineClient } from '../src-main/engine/engineClient.js';
import type { ChatMessage } from '../src-common/engineTypes.js';
import { composeUserMessage } from '../src-main/session/documentPrompt.js';
import { DEFAULT_SESSION_SETTINGS } from '../src-main/store/sessionDefaults.js';
import { argmax, klDivergence } from '../test/bench/divergence.js';
import { buildReference, probeRow } from '../test/bench/fidelity.js';

const { values } = parseArgs({
  options: {
    docs: { type: 'string', default: 'gpl2,idle-help,idle-history' },
    policies: { type: 'string' },
    tokens: { type: 'string', default: '16' },
    model: { type: 'string', default: path.join(process.env.HOME ?? '', '.cache/sift/models/SmolLM2-135M-Instruct.Q4_1.gguf') },
    question: { type: 'string', default: "What was the harbour master of Lindqvist's name?" },
  },
});

const fixtures = path.join(import.meta.dirname, '../test/fixtures/lazy-prose');
const client = await EngineClient.start({ build: 'patched' });
await client.loadModel({ path: values.model, contextSize: 4096 });

for (const doc of values.docs.split(',')) {
  const text = readFileSync(path.join(fixtures, `${doc}.txt`), 'utf8');
  const messages: ChatMessage[] = [
    { role: 'system', content: DEFAULT_SESSION_SETTINGS.systemPrompt },
    { role: 'user', content: composeUserMessage(values.question, [{ name: `${doc}.txt`, text }]) },
  ];
  const ref = await buildReference(client, messages, Number(values.tokens));
  const n = ref.promptTokens;
  const drop = (k: number) => ((n - k - 0.5) / n).toFixed(6); // keep fraction that drops exactly k tokens
  const policies = values.policies
    ? values.policies.split(';')
    : [
        'lazy:at=4,keep=1',
        `lazy:at=4,keep=${drop(1)}`,
        `lazy:at=4,keep=${drop(10)}`,
        'lazy:at=4,keep=0.99',
        'lazy:at=4,keep=0.9',
        'lazy:at=4,keep=0.9,revive=on',
        'lazy:at=24,keep=0.3',
        'lazy:at=24,keep=0.3,revive=on',
        'lazy',
        'lazy:revive=on',
      ];
  console.log(`\n## ${doc}: ${n} prompt tokens; full answers ${JSON.stringify(ref.continuation)} (${ref.follow.length} tokens, self-consistent ${ref.selfConsistent})`);
  console.log('policy | top1@0 (full top1) | KL@0 | top1 agree 1..N | mean KL 1..N | greedy-under-forcing');
  for (const policy of policies) {
    const started = performance.now();
    const logits = await probeRow(client, messages, ref.follow, policy);
    const rows = Math.min(logits.length, ref.logits.length);
    const kl = Array.from({ length: rows }, (_, i) => klDivergence(ref.logits[i]!, logits[i]!));
    const agree = Array.from({ length: rows }, (_, i) => argmax(ref.logits[i]!) === argmax(logits[i]!));
    const rest = kl.slice(1);
    const top = logits.slice(0, rows).map((l) => argmax(l));
    console.log(
      `${policy} | ${top[0]} (${argmax(ref.logits[0]!)}) | ${kl[0]!.toFixed(4)} | ${agree.slice(1).filter(Boolean).length}/${rows - 1} | ` +
        `${(rest.reduce((a, b) => a + b, 0) / Math.max(1, rest.length)).toFixed(4)} | [${top.join(',')}] | ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  }
  console.log(`reference tokens: [${ref.follow.join(',')}]`);
}
await client.close();
