// Where the fact's tokens rank under the native scorer at a first prune point (layer `at`, scored by
// layers from..at-1, max-pooled over `pool`): rank fraction among prompt tokens (0 = best).
import { readFileSync } from 'node:fs';
import { EngineClient } from '../src-main/engine/engineClient.js';
import { composeUserMessage } from '../src-main/session/documentPrompt.js';
import { DEFAULT_SESSION_SETTINGS } from '../src-main/store/sessionDefaults.js';
const [doc, atS, fromS, windowS] = process.argv.slice(2);
const at = Number(atS), from = Number(fromS), pool = 15, window = Number(windowS ?? 8);
const client = await EngineClient.start({ build: 'patched' });
await client.loadModel({ path: `${process.env.HOME}/.cache/sift/models/SmolLM2-135M-Instruct.Q4_1.gguf`, contextSize: 4096 });
const text = readFileSync(`/work/main/test/fixtures/lazy-prose/${doc}.txt`, 'utf8');
const q = "What was the harbour master of Lindqvist's name?";
const messages = [{ role: 'system' as const, content: DEFAULT_SESSION_SETTINGS.systemPrompt }, { role: 'user' as const, content: composeUserMessage(q, [{ name: `${doc}.txt`, text }]) }];
const r = await client.probeLazyPrefill({ messages, schedule: { pruneLayers: [at], keep: [0.9], nSink: 4, nRecent: 16, obsWindow: window, pool, scoreFrom: from }, withObservation: true });
const n = r.promptTokens.length;
const fact = [44109, 21899, 2828, 720]; // " Elsbeth Marrow" (full's answer tokens)
let start = -1;
for (let i = 0; i + 1 < n; i++) if (r.promptTokens[i] === fact[0] && r.promptTokens[i + 1] === fact[1]) start = i;
const obs = r.observation!;
const H = obs.layers[0]!.nHeadKv;
const acc = new Float64Array(H * n);
for (const l of obs.layers) {
  if (l.layer < from || l.layer >= at) continue;
  for (let h = 0; h < H; h++) for (let j = 0; j < l.nKv; j++) { const p = obs.positions[j]!; if (p >= 0 && p < n) acc[h * n + p] += l.scores[h * l.nKv + j]!; }
}
const score = new Float64Array(n), raw = new Float64Array(n);
for (let h = 0; h < H; h++) for (let i = 0; i < n; i++) { let b = acc[h*n+i]!; for (let d = Math.max(0, i - 7); d <= Math.min(n - 1, i + 7); d++) b = Math.max(b, acc[h*n+d]!); score[i] += b; raw[i] += acc[h*n+i]!; }
const order = [...Array(n).keys()].sort((a, b) => score[b]! - score[a]! || raw[b]! - raw[a]!);
const rank = new Map(order.map((t, k) => [t, k / n]));
console.log(`${doc} at=${at} from=${from} window=${window}: n=${n}, fact " Elsbeth Marrow" at ${start}..${start + 3}; pruned = rank > 0.9 (minus forced)`);
for (let i = start - 8; i < start + 6; i++) console.log(i, r.promptTokens[i], rank.get(i)!.toFixed(3), score[i]!.toExponential(3), raw[i]!.toExponential(3));
for (const f of [0, 0.1, 0.5, 0.8, 0.85, 0.89, 0.9, 0.91, 0.95, 0.99]) { const t = order[Math.min(n - 1, Math.floor(f * n))]!; console.log(`rank ${f}: token ${t} score ${score[t]!.toExponential(3)}`); }
const cut = score[order[Math.floor(0.9 * n)]!]!; console.log('tokens with score within 1e-6 relative of the 0.9 cut:', order.filter((t) => Math.abs(score[t]! - cut) <= 1e-6 * cut).length);
await client.close();
