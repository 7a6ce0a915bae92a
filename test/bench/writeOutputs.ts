// Writes a finished run: docs/bench/<date>-<mode>.json, its two SVG plots beside it, and a new
// section at the end of docs/BENCHMARKS.md (created with the method header the first time).
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BENCHMARKS_HEADER, runSection } from './markdownReport.js';
import { accuracySpeedPlot, ttftPlot } from './plots.js';
import type { BenchResults } from './results.js';

export interface WrittenFiles {
  markdown: string;
  json: string;
  ttftSvg: string;
  accuracySvg: string;
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
  const relative = { json: `bench/${name}.json`, ttftSvg: `bench/${name}-ttft.svg`, accuracySvg: `bench/${name}-accuracy-speed.svg` };

  writeFileSync(path.join(outputDir, relative.json), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(path.join(outputDir, relative.ttftSvg), ttftPlot(results));
  writeFileSync(path.join(outputDir, relative.accuracySvg), accuracySpeedPlot(results));

  const markdown = path.join(outputDir, 'BENCHMARKS.md');
  if (!existsSync(markdown)) writeFileSync(markdown, BENCHMARKS_HEADER);
  appendFileSync(markdown, `\n${runSection(results, relative)}`);
  return {
    markdown,
    json: path.join(outputDir, relative.json),
    ttftSvg: path.join(outputDir, relative.ttftSvg),
    accuracySvg: path.join(outputDir, relative.accuracySvg),
  };
}
