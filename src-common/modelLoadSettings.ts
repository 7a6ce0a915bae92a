// How the engine loads a model, as the person sets it (settings panel, `sift serve`): context
// size, CPU threads, layers on the GPU, flash attention. They apply to every chat and take effect
// when the model is loaded again. Pure: the schema lives in schemas.ts, the store in src-main.

/** The context opened when the setting is auto: the model's trained one, capped here (KV grows with it). */
export const DEFAULT_MAX_CONTEXT = 16_384;
/** Smallest context a person may set: one prompt chunk of the engine's planner. */
export const MIN_CONTEXT_SIZE = 256;
/** Largest context the setting takes; the model's trained context caps it again at load. */
export const MAX_CONTEXT_SIZE = 1_048_576;
export const MAX_THREADS = 512;
export const MAX_GPU_LAYERS = 1_000;

export interface ModelLoadSettings {
  /** Tokens the context holds; auto: the model's trained context, at most DEFAULT_MAX_CONTEXT. */
  contextSize: 'auto' | number;
  /** CPU threads for prompt and answer; auto: every core the OS offers. */
  threads: 'auto' | number;
  /** Layers put on the GPU; auto: as many as node-llama-cpp finds free VRAM for (0 on a CPU build). */
  gpuLayers: 'auto' | number;
  /** llama.cpp's fused attention; quantized KV types turn it on for their context whatever this says. */
  flashAttention: boolean;
}

export const DEFAULT_MODEL_LOAD_SETTINGS: ModelLoadSettings = {
  contextSize: 'auto',
  threads: 'auto',
  gpuLayers: 'auto',
  flashAttention: false,
};

/** What the engine's loadModel takes from the settings: auto means "leave it to the engine". */
export interface ModelLoadOptions {
  contextSize?: number;
  threads?: number;
  gpuLayers?: number | 'auto';
  flashAttention?: boolean;
}

export function loadOptionsFrom(settings: ModelLoadSettings): ModelLoadOptions {
  return {
    ...(settings.contextSize === 'auto' ? {} : { contextSize: settings.contextSize }),
    ...(settings.threads === 'auto' ? {} : { threads: settings.threads }),
    gpuLayers: settings.gpuLayers,
    flashAttention: settings.flashAttention,
  };
}

/** The context a model opens under the setting: what loadModel does, said before it runs. */
export function effectiveContextSize(setting: ModelLoadSettings['contextSize'], trainContextSize: number): number {
  return Math.min(setting === 'auto' ? DEFAULT_MAX_CONTEXT : setting, trainContextSize);
}

/** The problem with a whole-number-or-auto field as typed (null when fine); the API's schema uses the same words. */
export function loadSettingProblem(field: 'contextSize' | 'threads' | 'gpuLayers', raw: string): string | null {
  const text = raw.trim().toLowerCase();
  if (text === '' || text === 'auto') return null;
  const value = Number(text);
  const [label, min, max] = LIMITS[field];
  if (!Number.isInteger(value)) return `${label} is auto or a whole number, not "${raw.trim()}".`;
  if (value < min || value > max) return `${label} is auto or a whole number from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}.`;
  return null;
}

/** A field as typed, as a setting: auto for empty or "auto" (call loadSettingProblem first). */
export function parseLoadSetting(raw: string): 'auto' | number {
  const text = raw.trim().toLowerCase();
  return text === '' || text === 'auto' ? 'auto' : Number(text);
}

const LIMITS: Record<'contextSize' | 'threads' | 'gpuLayers', [string, number, number]> = {
  contextSize: ['Context size', MIN_CONTEXT_SIZE, MAX_CONTEXT_SIZE],
  threads: ['Threads', 1, MAX_THREADS],
  gpuLayers: ['GPU layers', 0, MAX_GPU_LAYERS],
};
