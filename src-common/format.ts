// Numbers as people read them, one wording for the CLI, the app, exports and error messages.
// Pure: the renderer imports it.

const BINARY_UNITS = ['KiB', 'MiB', 'GiB', 'TiB'] as const;
export type BinaryUnit = (typeof BINARY_UNITS)[number];

/**
 * Bytes in binary units with one decimal ("2.0 KiB", "22.5 MiB"), or always in `unit` when a line
 * compares several figures; `missing` when there is no figure.
 */
export function formatBytes(bytes: number | null | undefined, options: { unit?: BinaryUnit; missing?: string } = {}): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return options.missing ?? '—';
  if (options.unit) return `${(bytes / 1024 ** (BINARY_UNITS.indexOf(options.unit) + 1)).toFixed(1)} ${options.unit}`;
  if (Math.abs(bytes) < 1024) return `${bytes} B`;
  let value = bytes;
  let unit = -1;
  while (Math.abs(value) >= 1024 && unit < BINARY_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${BINARY_UNITS[unit]}`;
}

const BYTE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };

/** "64mb", "1.5gb", "4096b" (binary units, any case) as bytes, rounded down; null for anything else. */
export function parseByteSize(raw: string): number | null {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb)\s*$/i.exec(raw);
  if (!match) return null;
  return Math.floor(Number(match[1]) * BYTE_UNITS[match[2]!.toLowerCase()]!);
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}
