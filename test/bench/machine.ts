// The machine a run was measured on, for the report: absolute times mean little without it.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface MachineInfo {
  cpuModel: string;
  logicalCores: number;
  /** What the engine uses for its thread count (os.availableParallelism). */
  availableParallelism: number;
  ramBytes: number;
  os: string;
  node: string;
  nodeLlamaCpp: string;
  /** 1-minute load average at start: above the core count means another job shared the CPU. */
  loadAverageAtStart: number;
}

function cpuModelName(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) return line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // not Linux: fall back to what Node reports
  }
  return os.cpus()[0]?.model.trim() ?? 'unknown';
}

/** The widest vector unit /proc/cpuinfo reports (empty elsewhere): "AMD EPYC" comes with and without AVX-512 here. */
function vectorUnit(): string {
  try {
    const flags = new Set(readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'))?.split(/\s+/) ?? []);
    for (const [flag, name] of [['amx_tile', 'AMX'], ['avx512f', 'AVX-512'], ['avx2', 'AVX2'], ['avx', 'AVX']] as const) if (flags.has(flag)) return name;
  } catch {
    // not Linux
  }
  return '';
}

/** The CPU in a few words, for a result kept between runs: "AMD EPYC (AVX2)". */
export function cpuSummary(): string {
  const unit = vectorUnit();
  return unit ? `${cpuModelName()} (${unit})` : cpuModelName();
}

function nodeLlamaCppVersion(): string {
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  try {
    const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'node_modules', 'node-llama-cpp', 'package.json'), 'utf8')) as { version: string };
    return manifest.version;
  } catch {
    return 'unknown';
  }
}

export function describeMachine(): MachineInfo {
  return {
    // with the widest vector unit: the two "AMD EPYC" machines here differ 3× by AVX-512
    cpuModel: cpuSummary(),
    logicalCores: os.cpus().length,
    availableParallelism: os.availableParallelism(),
    ramBytes: os.totalmem(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    nodeLlamaCpp: nodeLlamaCppVersion(),
    loadAverageAtStart: os.loadavg()[0] ?? 0,
  };
}
