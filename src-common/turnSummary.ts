// A turn's metrics as facts a person reads, one description for the CLI, the app's info panel and
// its cache meter: the generic figures, then one line per press from its own declaration
// (describeTurn). Pure: the renderer imports it.
import type { ConversationCacheMetrics, KeptText, TurnMetrics } from './engineTypes.js';
import { formatBytes, formatMs } from './format.js';
import type { PressDeclaration } from './policy/press.js';
import { parsePolicy, parsePolicyPresses, type KvPolicy } from './policy/spec.js';

export { describeLazyPrefill } from './policy/presses/lazyPrefill.js';

export interface TurnFact {
  /** Stable, for tests and styling. */
  key: string;
  label: string;
  value: string;
}

const count = (n: number) => n.toLocaleString('en-US');

/** The presses a stored policy names; none when it no longer parses (a policy from an older Sift). */
function pressesOf(spec: string): { presses: PressDeclaration[]; policy: KvPolicy | null } {
  try {
    return { presses: parsePolicyPresses(spec).map((e) => e.press), policy: parsePolicy(spec) };
  } catch {
    return { presses: [], policy: null };
  }
}

/** e.g. "22.5 MiB used of 180.0 MiB allocated (predicted 180.0 MiB), peak 180.0 MiB"; the stock build has no byte counts. */
export function describeKvCache(m: TurnMetrics): string {
  if (m.kvBytesAllocated === null) return `${count(m.promptTokens)} of ${count(m.contextSize)} context tokens (KV bytes need the patched build)`;
  const predicted = m.kvPredicted ? ` (predicted ${formatBytes(m.kvPredicted.steadyKvBytes)})` : '';
  const peak = m.kvBytesPeak !== null && m.kvBytesPeak !== m.kvBytesSteady ? `, peak ${formatBytes(m.kvBytesPeak)}` : '';
  return `${formatBytes(m.kvBytesUsed)} used of ${formatBytes(m.kvBytesAllocated)} allocated${predicted}${peak}`;
}

export function describeTurn(m: TurnMetrics): TurnFact[] {
  const facts: TurnFact[] = [
    { key: 'ttft', label: 'Time to first token', value: formatMs(m.ttftMs) },
    {
      key: 'prompt',
      label: 'Prompt',
      value: `${count(m.promptTokens)} tokens${m.prefillTokens !== m.promptTokens ? ` (${count(m.prefillTokens)} computed)` : ''}, read at ${count(Math.round(m.prefillTokensPerSec))} tok/s`,
    },
    { key: 'answer', label: 'Answer', value: `${count(m.generatedTokens)} tokens at ${m.decodeTokensPerSec.toFixed(1)} tok/s` },
    { key: 'total', label: 'Total', value: formatMs(m.totalMs) },
    { key: 'kv', label: 'KV cache', value: describeKvCache(m) },
    { key: 'context', label: 'Context', value: `${count(m.contextSize)} tokens` },
    { key: 'policy', label: 'Policy', value: m.policy },
  ];
  if (m.selection) facts.push({ key: 'auto', label: `Chosen by ${m.selection.requested}`, value: m.selection.explanation });
  const { presses, policy } = pressesOf(m.policy);
  for (const press of presses) {
    const said = policy ? press.describeTurn?.(m, policy) : null;
    if (said) facts.push({ key: `press-${press.name}`, label: press.title, value: said });
  }
  if (m.kept) facts.push({ key: 'kept', label: m.kept.basis === 'computed' ? 'Read closely' : 'Kept in the cache', value: describeKeptText(m.kept) });
  if (m.conversation) facts.push({ key: 'conversation', label: 'Conversation cache', value: describeConversationCache(m.conversation) });
  if (m.notice) facts.push({ key: 'notice', label: 'Notice', value: m.notice });
  return facts;
}

/**
 * e.g. "1,369 of 6,010 prompt tokens; 22% of the document's text" (an evictor), or "4,812 of 6,010
 * prompt tokens computed through every layer; 79% of the document's text" (a lazy prefill).
 */
export function describeKeptText(kept: KeptText): string {
  const tokens = `${count(kept.keptTokens)} of ${count(kept.promptTokens)} prompt tokens${kept.basis === 'computed' ? ' computed through every layer' : ''}`;
  const shares = (kept.documents ?? []).map((d) => {
    let full = 0;
    for (let i = 0; i < d.ranges.length; i += 2) if ((d.weights?.[i / 2] ?? 1) === 1) full += d.ranges[i + 1]! - d.ranges[i]!;
    return Math.round((full / Math.max(1, d.chars)) * 100);
  });
  if (shares.length === 0) return tokens;
  const which = shares.length === 1 ? "the document's text" : 'the documents\' texts';
  return `${tokens}; ${shares.map((p) => `${p}%`).join(', ')} of ${which}`;
}

/**
 * e.g. "reused 8,012 prompt tokens the last turn left (the last answer's pruned tokens revived
 * while idle in 1.2 s, waited 0 ms); kept whole for the next question", or "restored 8,012
 * prompt tokens saved on disk (180.2 MiB in 310 ms); …" for a document opened again.
 */
export function describeConversationCache(c: ConversationCacheMetrics): string {
  const revived = c.revived
    ? ` (the last answer's ${count(c.revived.tokens)} pruned tokens revived while idle in ${formatMs(c.revived.ms)}, waited ${formatMs(c.revived.waitedMs)})`
    : '';
  const moved = c.moved
    ? `, moved into the trimmed layers' cache (${c.moved.trimmedLayers} layers; ${formatBytes(c.moved.fromBytes)} → ${formatBytes(c.moved.toBytes)} of KV in ${formatMs(c.moved.ms)}, waited ${formatMs(c.moved.waitedMs)})`
    : '';
  const now = c.restored
    ? `restored ${count(c.restored.tokens)} prompt tokens saved on disk (${formatBytes(c.restored.bytes)} in ${formatMs(c.restored.ms)})`
    : c.continued
      ? `went on from the ${count(c.continued.tokens)} tokens the cache kept of the conversation's first ${count(c.continued.covered)}`
      : c.reusedTokens > 0
      ? `reused ${count(c.reusedTokens)} prompt tokens the last turn left${revived}${moved}`
      : `read the whole prompt${revived}${moved}`;
  const next =
    c.next === 'whole'
      ? `kept whole for the next question${c.nextReason ? `, ${c.nextReason}` : ''}`
      : c.next === 'reviving'
        ? `kept for the next question, its pruned tokens revived while idle${c.nextReason ? `, ${c.nextReason}` : ''}`
        : c.next === 'kept'
          ? (c.nextReason ?? 'the next question goes on from the tokens the cache kept')
          : c.nextReason
          ? `the next question reads it again: ${c.nextReason}`
          : 'not kept for the next question';
  const saved = c.saved ? `; the document's ${count(c.saved.tokens)} tokens saved on disk for another chat (${formatMs(c.saved.ms)})` : '';
  return `${now}; ${next}${saved}`;
}
