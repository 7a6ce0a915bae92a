// The layers' import rules, checked on the source: the renderer reaches only src-common (no path into
// the engine, the store or the main process), src-common reaches nothing of the processes it is
// shared by, and only src-main/api turns domain errors into API errors.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const IMPORT = /(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g;

function sourcesUnder(dir: string): string[] {
  return readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ts|svelte)$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name));
}

function resolveImport(from: string, spec: string): string | undefined {
  const plain = path.resolve(path.dirname(from), spec);
  return [plain, plain.replace(/\.js$/, '.ts')].find((candidate) => existsSync(candidate));
}

/** Every source file reachable from `entries` through relative imports, repo-relative. */
function reachable(entries: string[]): Set<string> {
  const seen = new Set<string>();
  const pending = [...entries];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = resolveImport(file, match[1]!);
      if (target) pending.push(target);
    }
  }
  return new Set([...seen].map((f) => path.relative(root, f).split(path.sep).join('/')));
}

describe('import boundaries', () => {
  it('the renderer reaches src-common and nothing else outside itself', () => {
    const reached = [...reachable(sourcesUnder('src-renderer/src'))];
    expect(reached.some((f) => f.startsWith('src-common/'))).toBe(true);
    expect(reached.filter((f) => !f.startsWith('src-renderer/') && !f.startsWith('src-common/'))).toEqual([]);
  });

  it('src-common imports nothing from the main process, the engine or the renderer', () => {
    const reached = [...reachable(sourcesUnder('src-common'))];
    expect(reached.filter((f) => !f.startsWith('src-common/'))).toEqual([]);
  });

  it('only src-main/api creates API errors', () => {
    const creators = [...sourcesUnder('src-main'), ...sourcesUnder('src-engine'), ...sourcesUnder('src-common')]
      .filter((f) => /new ApiError\(/.test(readFileSync(f, 'utf8')))
      .map((f) => path.relative(root, f).split(path.sep).join('/'));
    expect(creators.filter((f) => !f.startsWith('src-main/api/'))).toEqual([]);
  });
});
