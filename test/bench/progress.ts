// Progress on stderr: one line per finished step, with what ran, what it gave, and an ETA. Steps
// are weighted by an estimate of their prefill cost, so the ETA holds when lengths differ 8×.

/**
 * Relative cost of prefilling n tokens. Stock SmolLM2 timings here fit t(n) ≈ n·(3.6 ms +
 * 0.00095 ms·n) (issue 4); only the shape matters, the scale is learnt from the run itself.
 */
export function prefillCost(tokens: number): number {
  return tokens * (1 + tokens / 3800);
}

function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return m > 0 ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
}

export class Progress {
  private planned = 0;
  private done = 0;
  private spentMs = 0;
  private readonly startedAt = performance.now();

  constructor(private readonly write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)) {}

  plan(cost: number): void {
    this.planned += cost;
  }

  /** Takes planned work back out (it turned out to be cached), so the ETA and percentage stay true. */
  unplan(cost: number): void {
    this.planned = Math.max(this.done, this.planned - cost);
  }

  note(message: string): void {
    this.write(`[bench] ${message}`);
  }

  /** Marks a planned step finished; `ms` is how long it took. */
  step(cost: number, ms: number, message: string): void {
    this.done += cost;
    this.spentMs += ms;
    const left = Math.max(0, this.planned - this.done);
    const eta = this.done > 0 ? formatDuration((this.spentMs / this.done) * left) : '?';
    const percent = this.planned > 0 ? Math.min(100, Math.round((this.done / this.planned) * 100)) : 100;
    this.write(`[bench] ${String(percent).padStart(3)}% ETA ${eta.padEnd(7)} ${message}`);
  }

  get elapsed(): string {
    return formatDuration(performance.now() - this.startedAt);
  }
}
