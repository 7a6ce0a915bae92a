// Session export as Markdown (for people) and JSON (for tools and re-import). Pure functions over
// rows, so the app can export without a live store and tests need no database.
import { formatBytes } from '../../src-common/format.js';
import type { DocumentRow, MessageRow, SessionRow } from '../../src-common/storeTypes.js';

export interface SessionSnapshot {
  session: SessionRow;
  messages: MessageRow[];
  documents: DocumentRow[];
}

export interface ExportOptions {
  /** Defaults to now; pass a fixed value for reproducible output. */
  exportedAt?: number;
  /** Document text can be megabytes; JSON exports omit it unless asked. */
  includeDocumentText?: boolean;
}

export const SESSION_EXPORT_FORMAT = 'sift-session';
export const SESSION_EXPORT_VERSION = 1;

export interface SessionExportJson {
  format: typeof SESSION_EXPORT_FORMAT;
  version: typeof SESSION_EXPORT_VERSION;
  exportedAt: number;
  session: SessionRow;
  messages: MessageRow[];
  documents: Array<Omit<DocumentRow, 'text'> & { text?: string }>;
}

export function sessionToJson(snapshot: SessionSnapshot, options: ExportOptions = {}): string {
  const exported: SessionExportJson = {
    format: SESSION_EXPORT_FORMAT,
    version: SESSION_EXPORT_VERSION,
    exportedAt: options.exportedAt ?? Date.now(),
    session: snapshot.session,
    messages: snapshot.messages,
    documents: snapshot.documents.map(({ text, ...metadata }) =>
      options.includeDocumentText ? { ...metadata, text } : metadata,
    ),
  };
  return `${JSON.stringify(exported, null, 2)}\n`;
}

const ROLE_HEADINGS: Record<MessageRow['role'], string> = {
  system: 'System',
  user: 'You',
  assistant: 'Sift',
};

const STATUS_NOTES: Partial<Record<MessageRow['status'], string>> = {
  streaming: 'Answer was still being written when exported.',
  cancelled: 'Answer stopped by the user.',
  interrupted: 'Answer interrupted (the app closed while writing it); the text may be incomplete.',
  error: 'Answer failed',
};

export function sessionToMarkdown(snapshot: SessionSnapshot, options: ExportOptions = {}): string {
  const { session, messages, documents } = snapshot;
  const documentNames = new Map(documents.map((document) => [document.id, document.name]));
  const lines: string[] = [`# ${singleLine(session.title)}`, ''];
  lines.push(`- Exported: ${isoDate(options.exportedAt ?? Date.now())}`);
  lines.push(`- Created: ${isoDate(session.createdAt)}`);
  if (session.modelPath) lines.push(`- Model: \`${session.modelPath}\``);
  if (documents.length > 0) {
    lines.push(`- Documents: ${documents.map((document) => `${document.name} (${formatBytes(document.sizeBytes)})`).join(', ')}`);
  }
  for (const message of messages) {
    lines.push('', `## ${ROLE_HEADINGS[message.role]}`, '');
    if (message.documentIds.length > 0) {
      const names = message.documentIds.map((id) => documentNames.get(id) ?? 'removed document');
      lines.push(`*Attached: ${names.join(', ')}*`, '');
    }
    lines.push(message.content.trimEnd() || '*(no text)*');
    const note = statusNote(message);
    if (note) lines.push('', `> ${note}`);
    if (message.metrics) {
      const { promptTokens, generatedTokens, decodeTokensPerSec } = message.metrics;
      lines.push(
        '',
        `*${promptTokens} prompt tokens, ${generatedTokens} generated, ${decodeTokensPerSec.toFixed(1)} tokens/s*`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

function statusNote(message: MessageRow): string | null {
  const note = STATUS_NOTES[message.status];
  if (!note) return null;
  return message.status === 'error' && message.error ? `${note}: ${singleLine(message.error)}` : note;
}

function singleLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}
