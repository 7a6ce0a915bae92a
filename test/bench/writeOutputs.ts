// Writes a finished run: docs/bench/<date>-<mode>.json, its SVG plots beside it (the KV frontier
// when the run has KV-memory rows), and a new section at the end of docs/BENCHMARKS.md. The
// method header is the harness's: written when the file is created, and brought up to date
// (everything before the first run's section) when the method changes.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { benchmarksHeader, runLog, runSection, withCurrentHeader } from './markdownReport.js';
import { headerBlocks } from './proseFrontier.js';
import { accuracySpeedPlot, frontierPlot, ttftPlot } from './plots.js';
import type { BenchResults } from './results.js';

export interface WrittenFiles {
  markdown: string;
  json: string;
  ttftSvg: string;
  accuracySvg: string;
  frontierSvg: string | null;
}

/** <date>-<mode>, with -2, -3… when a run of that day and mode is already there. */
function freshBaseName(benchDir: string, results: BenchResults): string {
  const base = `${results.startedAt.slice(0, 10)}-${results.mode}`;
  let name = base;
  for (let n = 2; existsSync(path.join(benchDir, `${name}.json`)); n++) name = `${base}-${n}`;
  return name;
}

export function writeOutputs(outputDir: string, results: BenchResults): WrittenFiles {
  const benchDir = path.join(outputDir, 'bench');
  mkdirSync(benchDir, { recursive: true });
  const name = freshBaseName(benchDir, results);
  const frontier = frontierPlot(results);
  const relative = {
    json: `bench/${name}.json`,
    ttftSvg: `bench/${name}-ttft.svg`,
    accuracySvg: `bench/${name}-accuracy-speed.svg`,
    frontierSvg: frontier ? `bench/${name}-kv-frontier.svg` : null,
  };

  writeFileSync(path.join(outputDir, relative.json), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(path.join(outputDir, relative.ttftSvg), ttftPlot(results));
  writeFileSync(path.join(outputDir, relative.accuracySvg), accuracySpeedPlot(results));
  if (frontier && relative.frontierSvg) writeFileSync(path.join(outputDir, relative.frontierSvg), frontier);

  const markdown = path.join(outputDir, 'BENCHMARKS.md');
  const existing = existsSync(markdown) ? readFileSync(markdown, 'utf8') : '';
  const section = runSection(results, relative);
  // the headline links this run's section too: its anchors come from the run log as it will be written
  const blocks = headerBlocks(outputDir, `${runLog(existing)}\n${section}`);
  writeFileSync(markdown, `${existing ? withCurrentHeader(existing, ...blocks) : benchmarksHeader(...blocks)}\n${section}`);
  return {
    markdown,
    json: path.join(outputDir, relative.json),
    ttftSvg: path.join(outputDir, relative.ttftSvg),
    accuracySvg: path.join(outputDir, relative.accuracySvg),
    frontierSvg: relative.frontierSvg ? path.join(outputDir, relative.frontierSvg) : null,
  };
}
