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

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}
