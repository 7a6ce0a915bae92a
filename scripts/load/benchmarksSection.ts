// Writes a load script's section into docs/BENCHMARKS.md. The section lives among the dated run
// sections (after the first "## <date>" heading): `npm run bench` rebuilds everything above that,
// so a section there would be lost. A rerun replaces its own section instead of adding another.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeMachine, type MachineInfo } from '../../test/bench/machine.js';

/** "## <date> — <title>" headings of this kind, whatever their date. */
function headingPattern(title: string): RegExp {
  const escaped = title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^## \\d{4}-\\d{2}-\\d{2} — ${escaped}\\s*$`, 'm');
}

/** Replaces the section whose heading ends with `title`, or appends one; returns the file's path. */
export function writeBenchmarksSection(docsDir: string, title: string, section: string): string {
  const file = path.join(docsDir, 'BENCHMARKS.md');
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const body = `${section.trimEnd()}\n`;
  const found = headingPattern(title).exec(existing);
  if (!found) {
    writeFileSync(file, `${existing.trimEnd()}\n\n${body}`);
    return file;
  }
  const rest = existing.slice(found.index + found[0].length);
  const nextHeading = /^## /m.exec(rest);
  const end = nextHeading ? found.index + found[0].length + nextHeading.index : existing.length;
  const after = existing.slice(end);
  writeFileSync(file, `${existing.slice(0, found.index)}${body}${after ? `\n${after}` : ''}`);
  return file;
}

export function todayUtc(): string {
  return new Date().toISOString().slice(0, 10);
}

/** The machine in one line, as the bench's sections say it. */
export function machineLine(machine: MachineInfo = describeMachine()): string {
  const ram = `${(machine.ramBytes / 1024 ** 3).toFixed(1)} GiB RAM`;
  return `${machine.cpuModel}, ${machine.logicalCores} logical cores, ${ram}, ${machine.os}, Node ${machine.node}; 1-min load average ${machine.loadAverageAtStart.toFixed(2)} at start`;
}

export function loadAverageNow(): string {
  return (os.loadavg()[0] ?? 0).toFixed(2);
}
