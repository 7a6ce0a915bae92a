// The long bench's measure of other processes' CPU while a cell runs (test/bench/otherCpu.ts).
import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { machineBusySeconds, measureOtherCpu, processCpuSeconds } from '../bench/otherCpu.js';

describe('other processes’ CPU during a bench cell', () => {
  it('reads busy seconds from /proc/stat, leaving idle and iowait out', () => {
    // user nice system idle iowait irq softirq steal guest guest_nice (ticks of 1/100 s)
    const stat = 'cpu  1000 50 200 90000 700 10 20 30 0 0\ncpu0 500 25 100 45000 350 5 10 15 0 0\n';
    expect(machineBusySeconds(stat)).toBeCloseTo(13.1, 6);
    expect(() => machineBusySeconds('intr 1 2 3')).toThrow(/not a \/proc\/stat/);
  });

  it("reads a process's user and system seconds, whatever its name holds", () => {
    const line = '3840 (node (engine) x) S 3820 3840 3795 0 -1 4194304 101 0 0 0 2500 300 0 0 20 0 12 0 1 2 3';
    expect(processCpuSeconds(line)).toBeCloseTo(28, 6);
  });

  it.runIf(process.platform === 'linux')('counts a process that is neither the engine nor the bench as other cores', () => {
    // the "engine" sleeps; a child spinning for 400 ms is the other work
    const engine = spawn('sleep', ['5']);
    try {
      const meter = measureOtherCpu(engine.pid);
      spawnSync(process.execPath, ['-e', 'const t = Date.now() + 400; while (Date.now() < t);']);
      const cores = meter.stop();
      expect(cores).not.toBeNull();
      expect(cores!).toBeGreaterThan(0.2);
    } finally {
      engine.kill();
    }
    expect(measureOtherCpu(undefined).stop()).toBeNull();
  });
});
