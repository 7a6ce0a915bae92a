// Which Sift source a run measured: the engine is TypeScript run from the working tree, so a
// result belongs to a commit plus whatever was uncommitted at the time.
import { execFileSync } from 'node:child_process';

export interface SourceState {
  commit: string;
  dirtyFiles: number;
}

export function readSourceState(cwd = process.cwd()): SourceState {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain'], { cwd, encoding: 'utf8' });
    return { commit, dirtyFiles: status.split('\n').filter(Boolean).length };
  } catch {
    return { commit: 'unknown (not a git checkout)', dirtyFiles: 0 };
  }
}
