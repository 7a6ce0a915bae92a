// Writes one run: its results as docs/bench/<base>[-N].json, and its section appended to
// docs/BENCHMARKS.md under a header rebuilt from every run (headline, real-document frontier).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { benchmarksHeader, runLog, withCurrentHeader } from './markdownReport.js';
import { headerBlocks } from './proseFrontier.js';

export function appendRunSection(outputDir: string, base: string, results: unknown, sectionFor: (jsonFile: string) => string): { markdown: string; json: string } {
  const benchDir = path.join(outputDir, 'bench');
  mkdirSync(benchDir, { recursive: true });
  let name = base;
  for (let n = 2; existsSync(path.join(benchDir, `${name}.json`)); n++) name = `${base}-${n}`;
  const json = `bench/${name}.json`;
  writeFileSync(path.join(outputDir, json), `${JSON.stringify(results, null, 2)}\n`);
  const markdown = path.join(outputDir, 'BENCHMARKS.md');
  const existing = existsSync(markdown) ? readFileSync(markdown, 'utf8') : '';
  const section = sectionFor(json);
  const blocks = headerBlocks(outputDir, `${runLog(existing)}\n${section}`);
  writeFileSync(markdown, `${existing ? withCurrentHeader(existing, ...blocks) : benchmarksHeader(...blocks)}\n${section}`);
  return { markdown, json: path.join(outputDir, json) };
}
