// Process memory read from /proc (Linux only): what the soak samples. Reading /proc costs nothing
// in the processes watched, unlike asking them for their heap.
import { readFileSync, readdirSync } from 'node:fs';

/** Resident set size in bytes, or null when the process is gone. */
export function rssBytes(pid: number): number | null {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    const kib = /(\d+)/.exec(line ?? '')?.[1];
    return kib === undefined ? null : Number(kib) * 1024;
  } catch {
    return null;
  }
}

/** Direct children, from every thread's children list (a fork may come from any thread). */
export function childPids(pid: number): number[] {
  const children = new Set<number>();
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      for (const child of text.split(/\s+/)) if (child) children.add(Number(child));
    }
  } catch {
    // the process ended while its tasks were read
  }
  return [...children];
}

export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

/** The engine process a `sift serve` forked (src-engine/engineProcess.ts), if one runs. */
export function enginePid(servePid: number): number | null {
  return childPids(servePid).find((pid) => commandLine(pid).includes('engineProcess')) ?? null;
}
