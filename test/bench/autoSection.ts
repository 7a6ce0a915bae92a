// The auto section of docs/BENCHMARKS.md (issue 15), rendered from the per-length results the
// auto bench stores in docs/bench/auto-<length>.json: lengths measured in different runs (8k
// takes hours on a 2-core machine) make one table, each with the command, machine and date it
// was measured with.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatBytes } from '../../src-common/format.js';
import { machineLine, todayUtc, writeBenchmarksSection } from '../../scripts/load/benchmarksSection.js';
import type { MachineInfo } from './machine.js';

export const AUTO_TITLE = 'Policy auto against every fixed policy that fits';
export const ANSWER_TOKENS = 32;
export const AUTO_FIXED = ['full', 'kv:type=q8_0', 'lazy', 'lazy+kv:type=q8_0', 'vatp:budget=0.5,pool=7+kv:type=q8_0', 'vatp:budget=0.2,pool=7+kv:type=q8_0'];
export const AUTO_LIMITS = ['ample', 'tight', 'very tight'] as const;
export const AUTO_TASKS = ['prose', 'pass-key (synthetic)'] as const;
export type AutoLimit = (typeof AUTO_LIMITS)[number];
export type AutoTask = (typeof AUTO_TASKS)[number];

export interface AutoOutcome {
  /** The policy that ran (auto's choice for an auto turn). */
  policy: string;
  correct: boolean;
  /** Normalised, to compare with full KV's. */
  answer: string;
  ttftMs: number;
  kvBytesPeak: number | null;
  /** Auto chose exactly a fixed policy already run on this question: that turn's outcome. */
  reused: boolean;
}

export interface AutoTaskRun {
  task: AutoTask;
  questions: number;
  /** Per fixed policy, one outcome per question. */
  fixed: Record<string, AutoOutcome[]>;
  /** Whether the engine predicted the policy fits the limit for every question. */
  fits: Record<string, Record<AutoLimit, boolean>>;
  auto: Record<AutoLimit, AutoOutcome[]>;
  limitBytes: Record<AutoLimit, number[]>;
}

export interface AutoLengthRun {
  task: 'auto';
  length: number;
  depths: number;
  command: string;
  date: string;
  machine: MachineInfo;
  model: string;
  /** The shipped frontier auto read (nearest the length; runs before frontiers had lengths did not record its length). */
  frontier: { questions: number; measuredAt: string; promptTokens?: number } | null;
  tasks: AutoTaskRun[];
}

export function saveAutoLength(outputDir: string, run: AutoLengthRun): string {
  const dir = path.join(outputDir, 'bench');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `auto-${run.length}.json`);
  writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
  return file;
}

export function readAutoLengths(outputDir: string): AutoLengthRun[] {
  const dir = path.join(outputDir, 'bench');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^auto-\d+\.json$/.test(f))
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as AutoLengthRun)
    .filter((run) => run.task === 'auto')
    .sort((a, b) => a.length - b.length);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length === 0 ? Number.NaN : sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** The table's rows for one task at one length: one per memory limit. */
export function autoRows(length: number, run: AutoTaskRun): string[] {
  const full = run.fixed['full']!;
  const score = (outcomes: AutoOutcome[]) => outcomes.filter((o) => o.correct).length;
  const ttft = (outcomes: AutoOutcome[]) => median(outcomes.map((o) => o.ttftMs));
  const sameAsFull = (outcomes: AutoOutcome[]) => outcomes.filter((o, q) => o.answer === full[q]!.answer).length;
  const policies = Object.keys(run.fixed);
  return AUTO_LIMITS.map((limit) => {
    const fitting = policies.filter((p) => run.fits[p]![limit]);
    const best = [...fitting].sort(
      (a, b) => score(run.fixed[b]!) - score(run.fixed[a]!) || sameAsFull(run.fixed[b]!) - sameAsFull(run.fixed[a]!) || ttft(run.fixed[a]!) - ttft(run.fixed[b]!),
    )[0];
    const mine = run.auto[limit];
    const chosen = [...new Set(mine.map((o) => o.policy))].map((p) => `\`${p}\``).join(', ');
    const reused = mine.filter((o) => o.reused).length;
    const bestCell = best ? `\`${best}\`: ${score(run.fixed[best]!)}/${run.questions}, same ${sameAsFull(run.fixed[best]!)}, ${ttft(run.fixed[best]!).toFixed(0)} ms` : 'none fits';
    const lost = best ? score(run.fixed[best]!) - score(mine) : 0;
    const regret = best ? `${lost} answer${Math.abs(lost) === 1 ? '' : 's'}; TTFT ${(ttft(mine) / ttft(run.fixed[best]!)).toFixed(2)}×` : '—';
    return (
      `| ${length.toLocaleString('en-US')} | ${run.task} | ${limit} (${formatBytes(median(run.limitBytes[limit]))}) | ${chosen}${reused ? ` (${reused} reused)` : ''} | ${score(mine)}/${run.questions} | ${sameAsFull(mine)}/${run.questions} | ${ttft(mine).toFixed(0)} | ` +
      `${fitting.map((p) => `\`${p}\` ${score(run.fixed[p]!)}`).join(', ') || 'none'} | ${bestCell} | ${regret} |`
    );
  });
}

export function renderAutoSection(runs: AutoLengthRun[]): string {
  const lines = runs.map((run) => {
    const frontier = run.frontier ? `the frontier Sift ships for this model (${run.frontier.questions} questions${run.frontier.promptTokens ? ` of ~${run.frontier.promptTokens.toLocaleString('en-US')} tokens` : ''}, ${run.frontier.measuredAt.slice(0, 10)})` : 'no frontier (the model is not calibrated)';
    return `- ${run.length.toLocaleString('en-US')} tokens, ${run.date}: \`${run.command}\`; ${run.depths} fact depth${run.depths === 1 ? '' : 's'}; ${run.model}; ${machineLine(run.machine)}; auto read ${frontier}.`;
  });
  const latest = runs.map((r) => r.date).sort().at(-1) ?? todayUtc();
  return [
    `## ${latest} — ${AUTO_TITLE}`,
    '',
    'Each length as measured (patched build, flash attention off):',
    '',
    ...lines,
    '',
    `Tasks: real-prose questions built as \`sift calibrate\` builds them (seed sift-auto-bench-1, one question per fact depth and a two-passage one per document), and as many synthetic pass-key prompts plus one (test/helpers/passkey.ts) at evenly spread depths; greedy, ${ANSWER_TOKENS} answer tokens, prompt cache off. ` +
      'Memory limits are stated free RAM with no margin, per question from the engine\'s predicted peaks: ample (64 GiB), tight (midway between an 8-bit and a full f16 cache\'s peak), very tight (a quarter of the way from eviction at a fifth of the prompt to an 8-bit cache); the median is shown. ' +
      'A fixed policy fits a limit when the engine predicts it fits for every question. Auto is planned per question and limit and runs unless it chose exactly a fixed policy already run on that question (greedy: the same answer), whose turn is then its outcome ("reused"). ' +
      'Correct is against the ground truth (the fact or pass key in the answer); same is the normalised answer equal to full KV\'s; the best fitting policy is the one with most correct, then most same, then the lowest median TTFT.',
    '',
    '| prompt tokens | task | limit | auto chose | auto correct | same as full | auto TTFT (ms) | fixed policies that fit, correct | best fitting | regret (best − auto; auto TTFT / best) |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...runs.flatMap((run) => run.tasks.flatMap((task) => autoRows(run.length, task))),
  ].join('\n');
}

export function writeAutoSection(outputDir: string): { file: string; section: string } {
  const section = renderAutoSection(readAutoLengths(outputDir));
  return { file: writeBenchmarksSection(outputDir, AUTO_TITLE, section), section };
}
