// The app's number formats: bytes and durations as the CLI writes them (src-common/format.ts).
export { formatBytes, formatMs } from '../../../src-common/format.js';

export function formatRelative(timestamp: number, now = Date.now()): string {
  const minutes = Math.round((now - timestamp) / 60_000);
  if (minutes < 1) return 'just now';
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return new Date(timestamp).toLocaleDateString();
}
