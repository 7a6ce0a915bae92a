import { describe, expect, it } from 'vitest';
import {
  sessionToJson,
  sessionToMarkdown,
  type SessionExportJson,
  type SessionSnapshot,
} from '../../src-main/store/sessionExport.js';
import { DEFAULT_SESSION_SETTINGS } from '../../src-main/store/sessionDefaults.js';
import { sampleMetrics } from '../fixtures/store/tempDirs.js';
import { messageRow } from '../fixtures/store/messageRow.js';

const message = messageRow;

const snapshot: SessionSnapshot = {
  session: {
    id: 's1',
    title: 'Lease\nreview',
    createdAt: Date.UTC(2025, 0, 2, 3, 4, 5),
    updatedAt: 0,
    deletedAt: null,
    modelPath: '/models/qwen.gguf',
    settings: { ...DEFAULT_SESSION_SETTINGS },
  },
  documents: [
    {
      id: 'd1',
      sessionId: 's1',
      name: 'lease.pdf',
      mime: 'application/pdf',
      sizeBytes: 2048,
      sha256: 'ab'.repeat(32),
      text: 'Full lease text',
      tokenCount: 4,
      createdAt: 0,
    },
  ],
  messages: [
    message({ id: 'm1', content: 'When can I terminate?', documentIds: ['d1'] }),
    message({ id: 'm2', role: 'assistant', content: 'With 90 days notice.\n', metrics: sampleMetrics }),
    message({ id: 'm3', content: 'And the deposit?' }),
    message({ id: 'm4', role: 'assistant', content: 'The deposit is', status: 'interrupted' }),
    message({ id: 'm5', role: 'assistant', content: '', status: 'error', error: 'Out of\nmemory' }),
  ],
};

describe('sessionToMarkdown', () => {
  const markdown = sessionToMarkdown(snapshot, { exportedAt: Date.UTC(2025, 5, 1) });

  it('writes a title and metadata header', () => {
    expect(markdown.startsWith('# Lease review\n\n')).toBe(true);
    expect(markdown).toContain('- Exported: 2025-06-01T00:00:00.000Z');
    expect(markdown).toContain('- Created: 2025-01-02T03:04:05.000Z');
    expect(markdown).toContain('- Model: `/models/qwen.gguf`');
    expect(markdown).toContain('- Documents: lease.pdf (2.0 KiB)');
  });

  it('writes each message under its role with attachments, metrics and status notes', () => {
    expect(markdown).toContain('## You\n\n*Attached: lease.pdf*\n\nWhen can I terminate?');
    expect(markdown).toContain('## Sift\n\nWith 90 days notice.\n\n*1200 prompt tokens, 42 generated, 24.0 tokens/s*');
    expect(markdown).toContain('## Sift\n\nThe deposit is\n\n> Answer interrupted');
    expect(markdown).toContain('## Sift\n\n*(no text)*\n\n> Answer failed: Out of memory');
    expect(markdown.indexOf('When can I terminate?')).toBeLessThan(markdown.indexOf('And the deposit?'));
    expect(markdown.endsWith('\n')).toBe(true);
  });
});

describe('sessionToJson', () => {
  it('writes a versioned document without document text by default', () => {
    const parsed = JSON.parse(sessionToJson(snapshot, { exportedAt: 5 })) as SessionExportJson;
    expect(parsed.format).toBe('sift-session');
    expect(parsed.version).toBe(1);
    expect(parsed.exportedAt).toBe(5);
    expect(parsed.session).toEqual(snapshot.session);
    expect(parsed.messages).toEqual(snapshot.messages);
    expect(parsed.documents[0]).not.toHaveProperty('text');
    expect(parsed.documents[0]?.name).toBe('lease.pdf');
  });

  it('includes document text when asked', () => {
    const parsed = JSON.parse(sessionToJson(snapshot, { includeDocumentText: true })) as SessionExportJson;
    expect(parsed.documents[0]?.text).toBe('Full lease text');
  });
});
