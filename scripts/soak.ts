// `npm run soak`: a bounded soak of `sift serve` on loopback (issue 18, "Load"). Starts serve with
// SmolLM2 on a temp data dir, then for --minutes plays a person over its WebSocket: new chat, small
// document, a question and a follow-up (answers capped short), search, list, open; now and then an
// answer stopped midway or a chat deleted. One turn at a time, a pause between rounds (a soak
// looks for leaks and crashes over time, not for the most load). Every --sample-seconds it reads the
// RSS of the serve process and of its engine process from /proc (Linux only).
//
// Fails (exit 1) when a process died, a call failed other than BUSY, or, over a run long enough
// to judge (MIN_JUDGED_WINDOW_MS after the warm-up), RSS after the warm-up (the first 10% of the run)
// grows faster than --max-slope MiB/hour.
//
//   npm run soak [-- --minutes N] [--max-slope MiB/h] [--max-tokens N] [--pause-ms N]
//                [--sample-seconds N] [--seed S] [--json] [--write] [--output <docs dir>]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describeMachine, type MachineInfo } from '../test/bench/machine.js';
import { startServe } from '../test/e2e/support/serveProcess.js';
import { testModelPath } from '../test/helpers/testModel.js';
import { loadAverageNow, machineLine, todayUtc, writeBenchmarksSection } from './load/benchmarksSection.js';
import { enginePid, rssBytes } from './load/procStats.js';
import { createProse } from './load/prose.js';
import { connectServe, type ServeClient } from './load/serveClient.js';
import { judgeMemory, MIN_JUDGED_WINDOW_MS, type MemoryVerdict, type RssSample } from './load/soakMemory.js';
import { SoakRunner, type SoakCounters } from './load/soakRounds.js';
import { summarize } from './load/timings.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECTION_TITLE = 'soak (`npm run soak`)';
const MODEL_READY_TIMEOUT_MS = 180_000;

interface Options {
  minutes: number;
  maxSlope: number;
  maxTokens: number;
  pauseMs: number;
  sampleSeconds: number;
  seed: number;
  json: boolean;
  write: boolean;
  output: string;
}

const NUMERIC = { '--minutes': 'minutes', '--max-slope': 'maxSlope', '--max-tokens': 'maxTokens', '--pause-ms': 'pauseMs', '--sample-seconds': 'sampleSeconds', '--seed': 'seed' } as const;

function parseArgs(argv: string[]): Options {
  const options: Options = { minutes: 60, maxSlope: 50, maxTokens: 24, pauseMs: 3000, sampleSeconds: 15, seed: 18, json: false, write: false, output: path.join(repoRoot, 'docs') };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = Number(argv[i + 1]);
    if (flag === '--help' || flag === '-h') {
      console.log('Usage: npm run soak [-- --minutes N] [--max-slope MiB/h] [--max-tokens N] [--pause-ms N] [--sample-seconds N] [--seed S] [--json] [--write] [--output <docs dir>]');
      process.exit(0);
    } else if (flag === '--json') options.json = true;
    else if (flag === '--write') options.write = true;
    else if (flag === '--output' && argv[i + 1]) options.output = path.resolve(argv[++i]!);
    else if (Object.hasOwn(NUMERIC, flag) && Number.isFinite(value) && value >= 0) {
      options[NUMERIC[flag as keyof typeof NUMERIC]] = value;
      i++;
    } else throw new Error(`unknown or malformed option ${flag}`);
  }
  if (options.minutes <= 0 || options.sampleSeconds <= 0 || options.maxTokens < 1) throw new Error('--minutes, --sample-seconds and --max-tokens must be positive');
  return options;
}

async function waitForModel(client: ServeClient): Promise<string> {
  const deadline = Date.now() + MODEL_READY_TIMEOUT_MS;
  for (;;) {
    const state = await client.call('models.state', {});
    if (state.current && state.engine === 'ready') return state.current.name;
    if (state.error) throw new Error(`the model did not load: ${state.error}`);
    if (Date.now() > deadline) throw new Error(`the model did not load in ${MODEL_READY_TIMEOUT_MS / 1000} s (engine ${state.engine})`);
    await sleep(500);
  }
}

interface SoakResult {
  options: Options;
  machine: MachineInfo;
  loadAverageAtEnd: number;
  model: string;
  durationMs: number;
  counters: SoakCounters;
  /** Problems that fail the run, in words. */
  failures: string[];
  enginePids: number[];
  memory: MemoryVerdict;
  samples: RssSample[];
}

const mib = (value: number) => value.toFixed(1);

function memoryTable(memory: MemoryVerdict, limit: number): string {
  const lines = [
    `| process | RSS after warm-up (MiB) | max (MiB) | end (MiB) | slope (MiB/h) | under ${limit} MiB/h |`,
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const p of memory.processes) {
    const verdict = !memory.judged ? 'not judged (run too short)' : p.slopeMiBPerHour <= limit ? 'yes' : '**no**';
    lines.push(`| ${p.process} | ${mib(p.startMiB)} | ${mib(p.maxMiB)} | ${mib(p.endMiB)} | ${p.slopeMiBPerHour.toFixed(1)} | ${verdict} |`);
  }
  return lines.join('\n');
}

function summaryLines(result: SoakResult): string[] {
  const c = result.counters;
  const turns = summarize(c.turnMs);
  const expected = Object.entries(c.expectedErrors).map(([code, n]) => `${code} ${n}`).join(', ') || 'none';
  return [
    `${(result.durationMs / 60_000).toFixed(1)} min: ${c.rounds} rounds, ${c.turns} turns (answer p50 ${(turns.p50 / 1000).toFixed(1)} s, max ${(turns.max / 1000).toFixed(1)} s), ${c.cancelled} stopped midway (${c.cancelTooLate} stop pressed after the end), ${c.deletedChats} chats deleted, ${c.searches} searches, ${c.calls} calls`,
    `errors: ${c.unexpectedErrors} unexpected; expected: ${expected}; engine processes seen: ${result.enginePids.length}`,
  ];
}

function section(result: SoakResult): string {
  const o = result.options;
  const args = [
    o.minutes !== 60 ? `--minutes ${o.minutes}` : '',
    o.maxSlope !== 50 ? `--max-slope ${o.maxSlope}` : '',
    o.maxTokens !== 24 ? `--max-tokens ${o.maxTokens}` : '',
    o.pauseMs !== 3000 ? `--pause-ms ${o.pauseMs}` : '',
    '--write',
  ].filter(Boolean).join(' ');
  return [
    `## ${todayUtc()} — ${SECTION_TITLE}`,
    '',
    `- Command: \`npm run soak -- ${args}\` (scripts/soak.ts)`,
    `- Date: ${new Date().toISOString().replace('T', ' ').slice(0, 19)} UTC`,
    `- Machine: ${machineLine(result.machine)}, ${result.loadAverageAtEnd.toFixed(2)} at end`,
    `- Model: ${result.model}; \`sift serve\` on 127.0.0.1 with a temp data dir, one WebSocket client with the token`,
    `- Each round: a new chat (max ${o.maxTokens} answer tokens, policy auto), a ~300-word document attached, a question about it and a follow-up, one turn at a time, then a search, the chat list and the chat opened; every 4th round stops its first answer at the first token, every 3rd deletes its chat; ${o.pauseMs} ms pause between rounds. RSS of both processes from /proc every ${o.sampleSeconds} s; warm-up ${(result.memory.warmupMs / 60_000).toFixed(1)} min (the first 10%); slope by least squares over the samples after it, judged when that window is at least ${MIN_JUDGED_WINDOW_MS / 60_000} min.`,
    '',
    ...summaryLines(result).map((line) => `- ${line}`),
    '',
    memoryTable(result.memory, o.maxSlope),
    '',
    result.failures.length === 0 ? '**Passed.**' : `**Failed:** ${result.failures.join('; ')}.`,
  ].join('\n');
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const machine = describeMachine();
  const log = (line: string) => {
    if (!options.json) console.log(line);
  };
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sift-soak-'));
  const rendererDir = mkdtempSync(path.join(os.tmpdir(), 'sift-soak-renderer-'));
  writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>Sift</title>');
  const serve = await startServe({ dataDir, args: ['--model', testModelPath(), '--renderer-dir', rendererDir] });
  const failures: string[] = [];
  const samples: RssSample[] = [];
  const enginePids = new Set<number>();
  let client: ServeClient | null = null;
  let sampler: NodeJS.Timeout | undefined;
  try {
    client = await connectServe(serve.origin, serve.token, 120_000);
    const model = await waitForModel(client);
    log(`sift serve ${serve.pid} ready with ${model}; soaking for ${options.minutes} min`);
    let engineCrashes = 0;
    client.onEvent((event) => {
      if (event.type === 'model.state' && event.state.engine === 'crashed') engineCrashes++;
    });

    const started = performance.now();
    const sample = () => {
      const engine = enginePid(serve.pid);
      if (engine !== null) enginePids.add(engine);
      const s: RssSample = { atMs: performance.now() - started, serve: rssBytes(serve.pid), engine: engine === null ? null : rssBytes(engine), enginePid: engine };
      samples.push(s);
      log(`  ${(s.atMs / 60_000).toFixed(1)} min: serve ${s.serve === null ? 'gone' : mib(s.serve / 2 ** 20)} MiB, engine ${s.engine === null ? 'none' : mib(s.engine / 2 ** 20)} MiB`);
    };
    sample();
    sampler = setInterval(sample, options.sampleSeconds * 1000);

    const runner = new SoakRunner(client, createProse(options.seed), { maxTokens: options.maxTokens, cancelEvery: 4, deleteEvery: 3 });
    const deadline = started + options.minutes * 60_000;
    while (performance.now() < deadline && serve.alive()) {
      await runner.round();
      await sleep(options.pauseMs);
    }
    clearInterval(sampler);
    sample();
    const durationMs = performance.now() - started;

    if (!serve.alive()) failures.push('the sift serve process died');
    if (enginePids.size > 1 || engineCrashes > 0) failures.push(`the engine process died (${enginePids.size} engine processes seen, ${engineCrashes} crash reports)`);
    if (samples.some((s) => s.engine === null)) failures.push('a sample found no engine process');
    if (runner.counters.unexpectedErrors > 0) failures.push(`${runner.counters.unexpectedErrors} unexpected errors (first: ${runner.counters.errorSamples[0] ?? '?'})`);
    const memory = judgeMemory(samples, options.minutes * 60_000 * 0.1, options.maxSlope);
    if (memory.growing.length > 0) failures.push(`RSS grows faster than ${options.maxSlope} MiB/h after the warm-up: ${memory.growing.join(', ')}`);

    const result: SoakResult = {
      options,
      machine,
      loadAverageAtEnd: Number(loadAverageNow()),
      model,
      durationMs,
      counters: runner.counters,
      failures,
      enginePids: [...enginePids],
      memory,
      samples,
    };
    if (options.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(['', ...summaryLines(result), '', memoryTable(memory, options.maxSlope), ''].join('\n'));
      for (const message of runner.counters.errorSamples) console.log(`  error: ${message}`);
      console.log(failures.length === 0 ? 'PASS' : `FAIL: ${failures.join('; ')}`);
    }
    if (options.write) log(`wrote its section to ${writeBenchmarksSection(options.output, SECTION_TITLE, section(result))}`);
    return failures.length === 0 ? 0 : 1;
  } catch (error) {
    console.error(`soak: ${error instanceof Error ? error.message : String(error)}\n--- sift serve output (tail) ---\n${serve.output().slice(-4000)}`);
    return 1;
  } finally {
    clearInterval(sampler);
    client?.close();
    await serve.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(rendererDir, { recursive: true, force: true });
  }
}

process.exit(await main());
