// Row shapes the store returns. Plain data: the api contract and the renderer reuse them.
import type { TurnMetrics } from './engineTypes.js';

export interface SessionSettings {
  systemPrompt: string;
  temperature: number;
  topP: number;
  maxTokens: number;
  /** Policy spec for this session's turns ("auto" once the selector exists). */
  policy: string;
  /** What auto may give the KV cache: "auto" (the free memory decides), bytes ("512mb") or tokens ("4096"); policy/kvBudgetSetting.ts. */
  kvBudget: string;
}

export interface SessionRow {
  id: string;
  title: string;
  createdAt: number;
  updatedAt: number;
  /** Soft-deleted sessions keep their rows until the undo window passes. */
  deletedAt: number | null;
  modelPath: string | null;
  settings: SessionSettings;
}

export type MessageStatus = 'streaming' | 'complete' | 'cancelled' | 'error' | 'interrupted';

export interface MessageRow {
  id: string;
  sessionId: string;
  role: 'system' | 'user' | 'assistant';
  content: string;
  status: MessageStatus;
  createdAt: number;
  updatedAt: number;
  /** Present on finished assistant messages. */
  metrics: TurnMetrics | null;
  error: string | null;
  /** Documents attached to this (user) message. */
  documentIds: string[];
}

export interface DocumentRow {
  id: string;
  sessionId: string;
  name: string;
  mime: string;
  sizeBytes: number;
  sha256: string;
  text: string;
  tokenCount: number | null;
  createdAt: number;
}

export interface ModelProfileRow {
  /** sha256 of the model file's content (or of its first/last bytes plus size, see store docs). */
  modelHash: string;
  path: string;
  name: string;
  profile: unknown;
  createdAt: number;
}
