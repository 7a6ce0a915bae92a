// Reads a GGUF file's header and asks node-llama-cpp's GGUF insights what the model needs, without
// loading it. "Fits" is a CPU-RAM check with headroom until Sift's own cost model exists.
import { stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GgufInsights, readGgufFileInfo } from 'node-llama-cpp';
import type { ModelInsights } from '../../src-common/contract.js';
import { ModelError } from './modelError.js';
import { checkModelFile } from '../../src-engine/modelFile.js';
import { EngineError } from '../../src-engine/engineError.js';
import { DEFAULT_MAX_CONTEXT } from '../../src-common/modelLoadSettings.js';

/** Leave room for the OS, the app and the document text. */
const MEMORY_HEADROOM = 0.75;

export async function inspectModel(modelPath: string): Promise<ModelInsights> {
  const absolute = path.resolve(modelPath);
  const file = await stat(absolute).catch(() => null);
  if (!file?.isFile()) throw new ModelError('NOT_FOUND', `No model file at ${absolute}.`);
  if (!absolute.toLowerCase().endsWith('.gguf')) {
    throw new ModelError('INVALID', `${path.basename(absolute)} is not a .gguf file.`);
  }
  // node-llama-cpp's reader runs in this (the app's) process and aborts on some broken headers
  await checkModelFile(absolute).catch((error: unknown) => {
    throw error instanceof EngineError ? new ModelError('INVALID', error.message) : error;
  });
  let info;
  try {
    info = await readGgufFileInfo(absolute);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ModelError('INVALID', `${path.basename(absolute)} is not a readable GGUF model (${detail}).`);
  }
  const insights = await GgufInsights.from(info);
  const trainContextSize = insights.trainContextSize ?? null;
  const contextSize = Math.min(trainContextSize ?? 4096, DEFAULT_MAX_CONTEXT);
  // The V2 estimates load the model in llama.cpp (no_alloc) in this, the app's, process, where an
  // assert on a broken file would end the app; these read the header only. The engine process
  // measures the real allocation when the model loads.
  const weights = insights.estimateModelResourceRequirements({ gpuLayers: 0 });
  const context = insights.estimateContextResourceRequirements({ contextSize, modelGpuLayers: 0 });
  const estimatedBytes = weights.cpuRam + context.cpuRam;
  const totalMemoryBytes = os.totalmem();
  const general = info.metadata.general;
  return {
    path: absolute,
    name: general.name ?? path.basename(absolute, '.gguf'),
    architecture: String(general.architecture),
    sizeBytes: file.size,
    trainContextSize,
    layers: insights.totalLayers - 1,
    estimatedBytes,
    contextSize,
    fits: estimatedBytes <= totalMemoryBytes * MEMORY_HEADROOM,
    totalMemoryBytes,
  };
}
