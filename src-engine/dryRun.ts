// Memory truth before a turn, from llama.cpp itself, as its --fit asks (common/fit.cpp,
// common_get_device_memory_data): the model loaded with no_alloc and a context of the plan's
// shape created on it, then llama_get_memory_breakdown per buffer (the patched addon's reading).
// Nothing is allocated: the file's header and tensor list are read, ~0.1 s for a small model.
// The context is created with the arguments node-llama-cpp's LlamaContext would pass for the same
// shape (context padded to 256 cells, one more batch slot for a sliding-window model), and with
// SimLayerKV's layout when the shape trims layers, so it is the context a turn would get.
import { GgmlType, type Llama } from 'node-llama-cpp';
import type { BufferMemory } from '../src-common/engineTypes.js';
import type { ContextShape } from '../src-common/policy/contextPlan.js';
import { padToStep } from '../src-common/policy/kvBytes.js';
import { hasKvBudgets, readMemoryOfAddonContext, setNextContextLayout } from './siftNative.js';

interface AddonHandle {
  init(): Promise<boolean>;
  dispose(): Promise<void>;
}

interface DryRunBindings {
  AddonModel: new (path: string, options: Record<string, unknown>) => AddonHandle;
  AddonContext: new (model: AddonHandle, options: Record<string, unknown>) => AddonHandle;
}

const KV_TYPES = { f16: GgmlType.F16, q8_0: GgmlType.Q8_0, q4_0: GgmlType.Q4_0 } as const;

export interface DryRunModel {
  path: string;
  /** Layers on the GPU, as the loaded model has them. */
  gpuLayers: number;
  /** The model uses sliding-window attention (node-llama-cpp then gives the batch one more slot). */
  slidingWindow: boolean;
}

/** What a context of `shape` would allocate, per buffer: weights, KV and compute. Null on a build without the memory reading. */
export async function dryRunContext(llama: Llama, model: DryRunModel, shape: ContextShape): Promise<BufferMemory[] | null> {
  const bindings = (llama as unknown as { _bindings: DryRunBindings })._bindings;
  const addonModel = new bindings.AddonModel(model.path, { gpuLayers: model.gpuLayers, noAlloc: true, useMmap: false, useMlock: false });
  if (!(await addonModel.init())) throw new Error(`llama.cpp could not read ${model.path} for a dry run`);
  try {
    const layout = hasKvBudgets(llama) && shape.trimmedLayers.length > 0;
    if (layout) setNextContextLayout(llama, shape.trimmedLayers, shape.sink, shape.window);
    let context: AddonHandle;
    try {
      context = new bindings.AddonContext(addonModel, {
        contextSize: padToStep(shape.contextSize),
        batchSize: Math.min(shape.batchSize, shape.contextSize) + (model.slidingWindow && !shape.swaFull ? 1 : 0),
        sequences: 1,
        flashAttention: shape.flashAttention,
        kvCacheKeyType: KV_TYPES[shape.kvType],
        kvCacheValueType: KV_TYPES[shape.kvType],
        swaFullCache: shape.swaFull,
      });
      if (!(await context.init())) throw new Error('llama.cpp could not create the dry run context');
    } finally {
      if (layout) setNextContextLayout(llama, [], 0, 0);
    }
    try {
      return readMemoryOfAddonContext(llama, context);
    } finally {
      await context.dispose();
    }
  } finally {
    await addonModel.dispose();
  }
}
