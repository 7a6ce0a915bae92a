// Converts raw SQLite rows (snake_case, JSON as text) into the typed rows of src-common/storeTypes.ts.
import { DEFAULT_SESSION_SETTINGS } from './sessionDefaults.js';
import { parseStoredMetrics } from './storedMetrics.js';
import type {
  DocumentRow,
  MessageRow,
  MessageStatus,
  ModelProfileRow,
  SessionRow,
  SessionSettings,
} from '../../src-common/storeTypes.js';

export interface RawSession {
  id: string;
  title: string;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
  model_path: string | null;
  settings: string;
}

export interface RawMessage {
  id: string;
  session_id: string;
  role: MessageRow['role'];
  content: string;
  status: MessageStatus;
  created_at: number;
  updated_at: number;
  metrics: string | null;
  error: string | null;
  /** JSON array built by the query (see MESSAGE_COLUMNS). */
  document_ids: string;
}

export interface RawDocument {
  id: string;
  session_id: string;
  name: string;
  mime: string;
  size_bytes: number;
  sha256: string;
  text: string;
  token_count: number | null;
  created_at: number;
}

export interface RawModelProfile {
  model_hash: string;
  path: string;
  name: string;
  profile: string;
  created_at: number;
}

export const SESSION_COLUMNS = 's.id, s.title, s.created_at, s.updated_at, s.deleted_at, s.model_path, s.settings';

export const MESSAGE_COLUMNS = `m.id, m.session_id, m.role, m.content, m.status, m.created_at, m.updated_at,
  m.metrics, m.error,
  (SELECT json_group_array(document_id)
     FROM (SELECT document_id FROM message_documents md WHERE md.message_id = m.id ORDER BY md.position)
  ) AS document_ids`;

export function toSessionRow(raw: RawSession): SessionRow {
  return {
    id: raw.id,
    title: raw.title,
    createdAt: raw.created_at,
    updatedAt: raw.updated_at,
    deletedAt: raw.deleted_at,
    modelPath: raw.model_path,
    settings: parseSettings(raw.settings),
  };
}

/** Defaults fill fields added after the row was written, so old sessions keep loading. */
function parseSettings(json: string): SessionSettings {
  return { ...DEFAULT_SESSION_SETTINGS, ...(JSON.parse(json) as Partial<SessionSettings>) };
}

export function toMessageRow(raw: RawMessage): MessageRow {
  return {
    id: raw.id,
    sessionId: raw.session_id,
    role: raw.role,
    content: raw.content,
    status: raw.status,
    createdAt: raw.created_at,
    updatedAt: raw.updated_at,
    metrics: raw.metrics === null ? null : parseStoredMetrics(raw.metrics),
    error: raw.error,
    documentIds: JSON.parse(raw.document_ids) as string[],
  };
}

export function toDocumentRow(raw: RawDocument): DocumentRow {
  return {
    id: raw.id,
    sessionId: raw.session_id,
    name: raw.name,
    mime: raw.mime,
    sizeBytes: raw.size_bytes,
    sha256: raw.sha256,
    text: raw.text,
    tokenCount: raw.token_count,
    createdAt: raw.created_at,
  };
}

export function toModelProfileRow(raw: RawModelProfile): ModelProfileRow {
  return {
    modelHash: raw.model_hash,
    path: raw.path,
    name: raw.name,
    profile: JSON.parse(raw.profile) as unknown,
    createdAt: raw.created_at,
  };
}
