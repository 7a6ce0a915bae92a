// The api contract: every request channel with its payload and result type, and the events the
// back end pushes. Typed once here; both transports (Electron IPC, loopback WebSocket) carry it
// unchanged, and the renderer imports only these types.
import type { ModelFrontier } from './policy/frontier.js';
import type { z } from 'zod';
import type { BuildInfo, LiveCacheReading, ModelInfo, SavedKvEntry, SavedKvState, TurnMetrics } from './engineTypes.js';
import type { DocumentRow, MessageRow, SessionRow } from './storeTypes.js';
import type { RequestSchemas } from './schemas.js';
import type { ModelLoadSettings } from './modelLoadSettings.js';

export type { BuildInfo, LiveCacheReading, ModelInfo, SavedKvEntry, SavedKvState, TurnMetrics, MessageRow, SessionRow };
export type SessionSettings = SessionRow['settings'];

/** A document as the renderer sees it: everything but the (possibly huge) text. */
export type DocumentSummary = Omit<DocumentRow, 'text'>;

export interface SessionDetail {
  session: SessionRow;
  /**
   * Per-layer statistics come with the latest answer only (the one the cache panel shows); earlier
   * answers' `perLayer` is empty here, kept in the store and in exports. They are most of a long
   * chat's bytes, and opening a chat serializes every message.
   */
  messages: MessageRow[];
  documents: DocumentSummary[];
  /** True while an answer for this session is being generated. */
  answering: boolean;
}

export interface AppInfo {
  version: string;
  platform: string;
  /** 'electron' or 'serve'; for the About box only — features are gated on capabilities. */
  shell: 'electron' | 'serve';
  capabilities: { pickFiles: boolean };
  dataDir: string;
}

/** What node-llama-cpp's GGUF insights say about a model file, without loading it. */
export interface ModelInsights {
  path: string;
  name: string;
  architecture: string;
  sizeBytes: number;
  trainContextSize: number | null;
  layers: number;
  /** Memory needed for the weights plus a context of contextSize tokens, in bytes. */
  estimatedBytes: number;
  contextSize: number;
  /** Whether estimatedBytes fits in this machine's total memory (with headroom). */
  fits: boolean;
  totalMemoryBytes: number;
}

export interface KnownModel {
  path: string;
  name: string;
  addedAt: number;
  insights: ModelInsights | null;
  /** Set when the file is gone or unreadable. */
  problem: string | null;
}

export type EngineStatus = 'stopped' | 'starting' | 'ready' | 'loading' | 'crashed';

export interface DownloadState {
  id: string;
  uri: string;
  status: 'downloading' | 'cancelled' | 'done' | 'failed';
  downloadedBytes: number;
  totalBytes: number;
  /** Where the file is (done) or will be. */
  path: string | null;
  error: string | null;
}

/** A model's frontier calibration run by the app (Settings → Calibration), one at a time. */
export interface CalibrationState {
  modelPath: string;
  status: 'running' | 'done' | 'failed' | 'cancelled';
  /** Started by the app for a model with no frontier (Settings → Calibration: automatically), not by the button. */
  automatic: boolean;
  /** Waiting while an answer is written in the chat. */
  paused: boolean;
  /**
   * What is measured now: which layers SimLayerKV can trim (a model with no layer profile yet),
   * then the policies against full KV; `phases` is 2 when the layers are measured in this run.
   */
  phase: 'layers' | 'frontier';
  phases: 1 | 2;
  /** Turns and probes measured in this phase, of all there may be (the layer search can stop early); 0 of 0 while it starts. */
  done: number;
  total: number;
  /** The last step, in words. */
  line: string;
  error: string | null;
  startedAt: number;
  finishedAt: number | null;
}

export interface ModelState {
  engine: EngineStatus;
  build: BuildInfo | null;
  notice: string | null;
  current: ModelInfo | null;
  /** The model remembered from last time (loaded at start when it still exists). */
  lastModelPath: string | null;
  known: KnownModel[];
  downloads: DownloadState[];
  /** Why the engine or the last load failed, in words a person can act on. */
  error: string | null;
  /** How models load; a change loads the current one again. */
  loadSettings: ModelLoadSettings;
  /** Cores the OS offers this app: what threads=auto uses. */
  cpuCores: number;
  /** `sift worker` addresses (host:port) the engine adds as devices; a change starts a new engine. */
  workers: string[];
  /** The app's last or running calibration; null when none ran since it started. */
  calibration: CalibrationState | null;
  /** Models with no frontier are calibrated by the app, in the background, once each. */
  autoCalibrate: boolean;
  /** Why the loaded model, which has no frontier, is not being calibrated by itself; null otherwise. */
  autoCalibrationNote: string | null;
}

export interface ExportedSession {
  fileName: string;
  mime: string;
  content: string;
}

/** What sending a draft would do, said before it is sent: its length and the policy's fit. */
/** What the engine says of a turn before it runs (the prompt counted, the policy's fit). */
export interface EnginePreview {
  /** The whole prompt as the model would read it (history, documents, template, the draft). */
  promptTokens: number;
  contextSize: number;
  /** The policy the turn would run: auto's choice, or the chat's own. */
  policy: string;
  /** The chat's policy is auto (then `explanation` is why it chose `policy`). */
  auto: boolean;
  fits: boolean;
  /** Predicted for the turn: the most it holds at once (KV and compute buffers). */
  predictedPeakBytes: number;
  /** Predicted KV bytes after the prompt is in (the budget's for an evicting policy). */
  predictedKvBytes: number;
  /** auto's sentence, or the warning for a chosen policy that is predicted not to fit; null when there is nothing to say. */
  explanation: string | null;
  /** Leading prompt tokens the engine's cache holds: a follow-up (or a reopened document) reads only the rest. */
  cachedTokens: number;
  /** Where they are: the last turn's cache in memory, or a cache saved on disk (loaded first). */
  cacheSource: 'conversation' | 'disk' | null;
}

/** The engine's preview, and the time to first token this machine's earlier turns predict. */
export interface TurnPreview extends EnginePreview {
  /** Null until this model has had a plain prefill of at least 256 tokens on this machine and build. */
  expectedTtftMs: number | null;
  /** Where the figure comes from, in one line. */
  expectedTtftBasis: string | null;
}

export interface TurnStarted {
  userMessage: MessageRow | null;
  assistantMessage: MessageRow;
}

/** Result type of each channel. */
export interface ApiResults {
  'app.info': AppInfo;
  'sessions.list': SessionRow[];
  'sessions.create': SessionRow;
  'sessions.get': SessionDetail;
  'sessions.rename': SessionRow;
  'sessions.delete': SessionRow;
  'sessions.restore': SessionRow;
  'sessions.export': ExportedSession;
  'sessions.updateSettings': SessionRow;
  'chat.send': TurnStarted;
  'chat.stop': { stopped: boolean };
  'chat.regenerate': TurnStarted;
  'chat.editAndResend': TurnStarted;
  'chat.preview': TurnPreview;
  'documents.attach': DocumentSummary;
  'documents.text': { id: string; name: string; text: string };
  'models.state': ModelState;
  'models.inspect': ModelInsights;
  'models.add': ModelState;
  'models.forget': ModelState;
  'models.load': ModelState;
  'models.reload': ModelState;
  'models.setLoadSettings': ModelState;
  'models.setWorkers': ModelState;
  'models.pickFile': { path: string | null };
  'models.download': DownloadState;
  'models.cancelDownload': DownloadState;
  'models.calibrate': CalibrationState;
  'models.cancelCalibration': CalibrationState | null;
  'models.setAutoCalibrate': ModelState;
  /** A model's measured frontier (this machine's calibration, else the shipped one); null: not calibrated. */
  'models.frontiers': ModelFrontier[];
  'savedKv.list': SavedKvState;
  'savedKv.remove': SavedKvState;
  'savedKv.setBudget': SavedKvState;
}

export type ApiChannel = keyof RequestSchemas & keyof ApiResults;
export type ApiInput<C extends ApiChannel> = z.input<RequestSchemas[C]>;
export type ApiOutput<C extends ApiChannel> = ApiResults[C];

/** Events pushed to every connected renderer. */
export type AppEvent =
  | {
      type: 'turn.progress';
      sessionId: string;
      messageId: string;
      done: number;
      total: number;
      cache?: { held: number; evicted: number; capacity: number };
      live?: LiveCacheReading;
    }
  | { type: 'turn.token'; sessionId: string; messageId: string; text: string }
  | { type: 'turn.finished'; sessionId: string; message: MessageRow }
  | { type: 'model.state'; state: ModelState }
  | { type: 'download.progress'; download: DownloadState }
  | { type: 'calibration.progress'; calibration: CalibrationState }
  | { type: 'sessions.changed' };

export type ApiErrorCode =
  | 'INVALID_REQUEST'
  | 'NOT_FOUND'
  | 'BUSY'
  | 'NO_MODEL'
  | 'ENGINE'
  | 'DOCUMENT'
  | 'UNSUPPORTED'
  | 'INTERNAL';

export interface ApiErrorShape {
  code: ApiErrorCode;
  message: string;
}

/** The one object a renderer gets, whichever transport is underneath. */
export interface SiftApi {
  call<C extends ApiChannel>(channel: C, payload: ApiInput<C>): Promise<ApiOutput<C>>;
  /** Returns a function that unsubscribes. */
  onEvent(listener: (event: AppEvent) => void): () => void;
}

/** The raw bridge the Electron preload exposes as window.siftBridge. */
export interface SiftBridge {
  invoke(channel: string, payload: unknown): Promise<{ ok: true; value: unknown } | { ok: false; error: ApiErrorShape }>;
  onEvent(listener: (event: AppEvent) => void): () => void;
  /** Absolute path of a dropped File (Electron's webUtils), or null. */
  pathForFile(file: File): string | null;
}

export const EVENT_CHANNEL = 'sift:event';
export const INVOKE_CHANNEL = 'sift:invoke';
