// How much CPU other processes took while a bench cell ran, in cores on average: a cell that
// shared the machine's cores with tests or a build reads slower, and a run spanning hours on a
// 2-core machine rarely has it to itself. Busy time of the whole machine (/proc/stat, the
// hypervisor's steal included: time the cores went elsewhere slows a cell too) less the engine
// process's and this process's own. Linux only; null elsewhere.
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on every Linux architecture Node runs on). */
const TICKS_PER_SECOND = 100;

/** Busy seconds of all CPUs from /proc/stat's first line (user, nice, system, irq, softirq, steal; guest is inside user). */
export function machineBusySeconds(procStat: string): number {
  const fields = procStat.split('\n')[0]!.trim().split(/\s+/);
  if (fields[0] !== 'cpu') throw new Error('not a /proc/stat text');
  const [user, nice, system, , , irq, softirq, steal] = fields.slice(1).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / TICKS_PER_SECOND;
}

/** CPU seconds (user + system) of one process from /proc/<pid>/stat; the name in parentheses may hold spaces. */
export function processCpuSeconds(pidStat: string): number {
  const afterName = pidStat.slice(pidStat.lastIndexOf(')') + 2).split(' ');
  // fields 14 and 15 of the whole line (utime, stime) are the 12th and 13th after the name
  return (Number(afterName[11]) + Number(afterName[12])) / TICKS_PER_SECOND;
}

interface Reading {
  at: number;
  machine: number;
  engine: number;
  own: number;
}

function read(enginePid: number): Reading | null {
  try {
    const usage = process.cpuUsage();
    return {
      at: performance.now(),
      machine: machineBusySeconds(readFileSync('/proc/stat', 'utf8')),
      engine: processCpuSeconds(readFileSync(`/proc/${enginePid}/stat`, 'utf8')),
      own: (usage.user + usage.system) / 1e6,
    };
  } catch {
    return null;
  }
}

/** Starts measuring; `stop()` gives other processes' average cores since, or null where /proc is not there. */
export function measureOtherCpu(enginePid: number | undefined): { stop(): number | null } {
  const start = enginePid === undefined ? null : read(enginePid);
  return {
    stop() {
      const end = start && enginePid !== undefined ? read(enginePid) : null;
      if (!start || !end) return null;
      const seconds = (end.at - start.at) / 1000;
      if (seconds <= 0) return null;
      const other = end.machine - start.machine - (end.engine - start.engine) - (end.own - start.own);
      return Math.round((Math.max(0, other) / seconds) * 100) / 100;
    },
  };
}
