// What engine code runs, in words, for the CLI, the setup smoke step and the app alike.
// Pure: the renderer imports it.
import type { BufferMemory, CpuInfo, GpuInfo } from './engineTypes.js';
import { formatBytes } from './format.js';

/** e.g. "CPU variant zen4 (AVX2, AVX512, …); switched off here: sapphirerapids" */
export function describeCpuCode(cpu: CpuInfo): string {
  const code =
    cpu.build === 'variants'
      ? `CPU variant ${cpu.variant ?? '(chosen by ggml; this OS does not say which)'}`
      : cpu.build === 'native'
        ? 'CPU code built for this machine (-march=native)'
        : cpu.build === 'avx2'
          ? 'CPU code for any AVX2 machine (x86-64-v3)'
          : "node-llama-cpp's prebuilt CPU code";
  const features = cpu.features.filter((f) => /^(AVX|AMX|SSE|NEON|SVE|F16C|FMA|BMI|DOTPROD|MATMUL|SME|FP16)/.test(f));
  const off = cpu.disabledVariants.length ? `; switched off on this machine after crashing: ${cpu.disabledVariants.join(', ')}` : '';
  return `${code} (${features.join(', ') || 'no vector features reported'})${off}`;
}

/** e.g. "GPU: Vulkan on NVIDIA RTX 4060, 30 of 30 layers" or why everything runs on the CPU. */
export function describeGpu(gpu: GpuInfo, offloadedLayers: number | null = null, layers: number | null = null): string {
  if (gpu.built === 'cpu') return 'no GPU backend in this build: everything runs on the CPU (docs/NATIVE.md: --gpu)';
  const name = { vulkan: 'Vulkan', cuda: 'CUDA', metal: 'Metal' }[gpu.built];
  if (gpu.active === null) return `${name} is built in but found no device here: everything runs on the CPU`;
  const onto = offloadedLayers !== null ? `, ${offloadedLayers}${layers !== null ? ` of ${layers + 1}` : ''} layers offloaded` : '';
  return `GPU: ${name} on ${gpu.devices.join(', ') || 'an unnamed device'}${onto}`;
}

const mib = (bytes: number) => formatBytes(bytes, { unit: 'MiB' });

/** Bytes per place, RAM first: host buffer types (CPU, CPU_REPACK, a GPU's pinned host memory) count as RAM. */
export function memoryByPlace(memory: readonly BufferMemory[]): Array<{ place: string; modelBytes: number; kvBytes: number; computeBytes: number }> {
  const places = new Map<string, { place: string; modelBytes: number; kvBytes: number; computeBytes: number }>();
  for (const entry of memory) {
    // a worker's buffer type carries its address: "RPC0[192.168.1.20:50052]"
    const worker = /^RPC\d*\[(.+)\]$/.exec(entry.bufferType)?.[1];
    const place = entry.isHost ? 'RAM' : worker ? `${entry.device} (worker ${worker})` : entry.device || entry.bufferType;
    const sum = places.get(place) ?? { place, modelBytes: 0, kvBytes: 0, computeBytes: 0 };
    sum.modelBytes += entry.modelBytes;
    sum.kvBytes += entry.kvBytes;
    sum.computeBytes += entry.computeBytes;
    places.set(place, sum);
  }
  return [...places.values()].sort((a, b) => (a.place === 'RAM' ? -1 : b.place === 'RAM' ? 1 : a.place.localeCompare(b.place)));
}

/** e.g. "RAM: weights 74.3 MiB, KV 0.0 MiB, compute 0.9 MiB; Vulkan0: weights 0.0 MiB, KV 22.5 MiB, compute 10.1 MiB" */
export function describeMemory(memory: readonly BufferMemory[]): string {
  return memoryByPlace(memory)
    .map((p) => `${p.place}: weights ${mib(p.modelBytes)}, KV ${mib(p.kvBytes)}, compute ${mib(p.computeBytes)}`)
    .join('; ');
}
