// The renderer's state, as Svelte 5 runes in one class. Components read fields and call methods;
// back-end events flow in through handleEvent.
import type {
  AppEvent,
  AppInfo,
  DocumentSummary,
  MessageRow,
  ModelState,
  SavedKvState,
  SessionDetail,
  SessionRow,
  SessionSettings,
  SiftApi,
  TurnPreview,
} from '../../../src-common/contract.js';
import type { FreeMemoryReading } from '../../../src-common/engineTypes.js';
import type { ModelLoadSettings } from '../../../src-common/modelLoadSettings.js';
import type { ModelFrontier } from '../../../src-common/policy/frontier.js';
import { saveTextFile, fileToBase64 } from './download.js';
import { connectApi, type ConnectionState } from './transport.js';

export type Panel = 'none' | 'settings' | 'models' | 'info';

export interface Toast {
  id: number;
  text: string;
  tone: 'info' | 'error';
  action?: { label: string; run: () => void };
}

export interface PrefillState {
  messageId: string;
  done: number;
  total: number;
  startedAt: number;
  /** Tokens already read when the first progress came: the cache the last turn left (a follow-up). */
  cached: number | null;
  /** Under a budget: what the cache holds now while a longer prompt streams through it. */
  cache: { held: number; evicted: number; capacity: number } | null;
  /** Tokens per layer so far (the live chart); the last reading stays until a new one comes. */
  layers: number[] | null;
}

/** The cache while a turn runs, for the header's meter: KV in use and the memory left. */
export interface LiveCache {
  messageId: string;
  kvBytesUsed: number | null;
  kvBytesAllocated: number | null;
  free: FreeMemoryReading | null;
}

/** An answer being written: tokens since the first, for a live decoding rate. */
export interface DecodeState {
  messageId: string;
  firstAt: number;
  tokens: number;
}

const UNDO_MS = 8000;

export class AppState {
  readonly api: SiftApi;
  connection = $state<ConnectionState>('reconnecting');
  info = $state<AppInfo | null>(null);
  sessions = $state<SessionRow[]>([]);
  query = $state('');
  currentId = $state<string | null>(null);
  detail = $state<SessionDetail | null>(null);
  models = $state<ModelState | null>(null);
  prefill = $state<PrefillState | null>(null);
  liveCache = $state<LiveCache | null>(null);
  decode = $state<DecodeState | null>(null);
  answeringId = $state<string | null>(null);
  pendingDocuments = $state<DocumentSummary[]>([]);
  attaching = $state(0);
  panel = $state<Panel>('none');
  toasts = $state<Toast[]>([]);
  /** The caches saved on disk (read when the settings open, and after each answer while they are). */
  savedKv = $state<SavedKvState | null>(null);
  /** The loaded model's measured frontiers by prompt length (read when the settings open, and after a calibration); empty: not calibrated; undefined: not read yet. */
  frontiers = $state<ModelFrontier[] | undefined>(undefined);
  loaded = $state(false);
  private toastId = 0;

  constructor() {
    this.api = connectApi((state) => {
      this.connection = state;
      if (state === 'connected' && this.loaded) void this.refreshAll();
    });
    this.api.onEvent((event) => this.handleEvent(event));
  }

  get connected(): boolean {
    return this.connection === 'connected';
  }

  get current(): SessionRow | null {
    return this.detail?.session ?? null;
  }

  /** Metrics of the newest finished answer in the open chat, for the header meters. */
  get lastMetrics() {
    const messages = this.detail?.messages ?? [];
    for (let i = messages.length - 1; i >= 0; i--) {
      const metrics = messages[i]?.metrics;
      if (metrics) return metrics;
    }
    return null;
  }

  get modelReady(): boolean {
    return this.models?.engine === 'ready' && this.models.current !== null;
  }

  async start(): Promise<void> {
    await this.refreshAll();
    const first = this.sessions[0];
    if (first && !this.currentId) await this.open(first.id);
    this.loaded = true;
    if (!this.models?.current && !this.models?.lastModelPath && this.models?.engine !== 'loading') this.panel = 'models';
  }

  async refreshAll(): Promise<void> {
    await this.guard(async () => {
      const [info, models] = await Promise.all([this.api.call('app.info', {}), this.api.call('models.state', {})]);
      this.info = info;
      this.models = models;
      await this.refreshSessions();
      if (this.currentId) await this.reloadDetail();
    });
  }

  async refreshSessions(): Promise<void> {
    const query = this.query.trim();
    this.sessions = await this.api.call('sessions.list', query ? { query } : {});
    // the back end may have renamed the open chat (named after its first question)
    const fresh = this.sessions.find((s) => s.id === this.detail?.session.id);
    if (fresh && this.detail) this.detail.session = fresh;
  }

  async open(sessionId: string): Promise<void> {
    await this.guard(async () => {
      this.currentId = sessionId;
      this.pendingDocuments = [];
      await this.reloadDetail();
    });
  }

  async reloadDetail(): Promise<void> {
    if (!this.currentId) return;
    const detail = await this.api.call('sessions.get', { sessionId: this.currentId });
    this.detail = detail;
    const streaming = detail.messages.find((m) => m.status === 'streaming');
    this.answeringId = detail.answering && streaming ? streaming.id : null;
  }

  async newChat(): Promise<void> {
    await this.guard(async () => {
      const session = await this.api.call('sessions.create', {});
      this.query = '';
      await this.refreshSessions();
      await this.open(session.id);
    });
  }

  async rename(sessionId: string, title: string): Promise<void> {
    await this.guard(async () => {
      const session = await this.api.call('sessions.rename', { sessionId, title });
      if (this.detail?.session.id === sessionId) this.detail.session = session;
      await this.refreshSessions();
    });
  }

  async remove(sessionId: string): Promise<void> {
    await this.guard(async () => {
      const session = await this.api.call('sessions.delete', { sessionId });
      if (this.currentId === sessionId) {
        this.currentId = null;
        this.detail = null;
      }
      await this.refreshSessions();
      this.notify(`Deleted “${session.title}”`, 'info', { label: 'Undo', run: () => void this.restore(sessionId) }, UNDO_MS);
    });
  }

  async restore(sessionId: string): Promise<void> {
    await this.guard(async () => {
      await this.api.call('sessions.restore', { sessionId });
      await this.refreshSessions();
      await this.open(sessionId);
    });
  }

  async search(query: string): Promise<void> {
    this.query = query;
    await this.guard(() => this.refreshSessions());
  }

  async exportCurrent(format: 'markdown' | 'json'): Promise<void> {
    if (!this.currentId) return;
    const sessionId = this.currentId;
    await this.guard(async () => {
      const file = await this.api.call('sessions.export', { sessionId, format });
      saveTextFile(file.fileName, file.mime, file.content);
    });
  }

  async updateSettings(settings: Partial<SessionSettings>): Promise<void> {
    if (!this.currentId) return;
    const sessionId = this.currentId;
    await this.guard(async () => {
      const session = await this.api.call('sessions.updateSettings', { sessionId, settings });
      if (this.detail?.session.id === sessionId) this.detail.session = session;
    });
  }

  async send(text: string): Promise<boolean> {
    if (!this.currentId) await this.newChat();
    const sessionId = this.currentId;
    if (!sessionId) return false;
    const documentIds = this.pendingDocuments.map((d) => d.id);
    return this.guard(async () => {
      const started = await this.api.call('chat.send', { sessionId, text, documentIds });
      this.pendingDocuments = [];
      this.beginAnswer(started.assistantMessage, started.userMessage);
      void this.refreshSessions();
    });
  }

  /**
   * What sending `text` would do (prompt length, the policy and its fit), or null without an open
   * chat and a ready model, or when the engine cannot say; never a toast: it runs as the person types.
   */
  async previewTurn(text: string): Promise<TurnPreview | null> {
    const sessionId = this.currentId;
    if (!sessionId || !this.modelReady) return null;
    try {
      return await this.api.call('chat.preview', { sessionId, text, documentIds: this.pendingDocuments.map((d) => d.id) });
    } catch {
      return null;
    }
  }

  async stop(): Promise<void> {
    if (!this.currentId) return;
    const sessionId = this.currentId;
    await this.guard(async () => {
      await this.api.call('chat.stop', { sessionId });
    });
  }

  async regenerate(): Promise<void> {
    if (!this.currentId) return;
    const sessionId = this.currentId;
    await this.guard(async () => {
      const started = await this.api.call('chat.regenerate', { sessionId });
      await this.reloadDetail();
      this.beginAnswer(started.assistantMessage, null);
    });
  }

  async editAndResend(messageId: string, text: string): Promise<void> {
    if (!this.currentId) return;
    const sessionId = this.currentId;
    await this.guard(async () => {
      const started = await this.api.call('chat.editAndResend', { sessionId, messageId, text });
      await this.reloadDetail();
      this.beginAnswer(started.assistantMessage, null);
    });
  }

  async attachFiles(files: File[]): Promise<void> {
    if (!this.currentId) await this.newChat();
    const sessionId = this.currentId;
    if (!sessionId) return;
    for (const file of files) {
      this.attaching++;
      await this.guard(async () => {
        const dataBase64 = await fileToBase64(file);
        const document = await this.api.call('documents.attach', { sessionId, name: file.name, mime: file.type, dataBase64 });
        if (!this.pendingDocuments.some((d) => d.id === document.id)) this.pendingDocuments.push(document);
        if (this.detail?.session.id === sessionId && !this.detail.documents.some((d) => d.id === document.id)) {
          this.detail.documents.push(document);
        }
      });
      this.attaching--;
    }
  }

  detachPending(documentId: string): void {
    this.pendingDocuments = this.pendingDocuments.filter((d) => d.id !== documentId);
  }

  async loadModel(path: string): Promise<void> {
    await this.guard(async () => {
      this.models = await this.api.call('models.load', { path });
    });
  }

  async reloadModel(): Promise<void> {
    await this.guard(async () => {
      this.models = await this.api.call('models.reload', {});
    });
  }

  /** A document of the open chat, as read (for the heatmap's text view); null when it cannot be had. */
  async documentText(documentId: string): Promise<{ id: string; name: string; text: string } | null> {
    const sessionId = this.currentId;
    if (!sessionId) return null;
    let result: { id: string; name: string; text: string } | null = null;
    await this.guard(async () => {
      result = await this.api.call('documents.text', { sessionId, documentId });
    });
    return result;
  }

  /** Changes how models load; the back end loads the current model again with it. */
  async setLoadSettings(settings: Partial<ModelLoadSettings>): Promise<boolean> {
    return this.guard(async () => {
      this.models = await this.api.call('models.setLoadSettings', { settings });
    });
  }

  /** Replaces the `sift worker` list; the back end starts the engine again with it and reloads the model. */
  async setWorkers(workers: string[]): Promise<boolean> {
    return this.guard(async () => {
      this.models = await this.api.call('models.setWorkers', { workers });
    });
  }

  /** Reads the loaded model's frontiers (this machine's calibration of each length, else the one Sift ships). */
  async refreshFrontiers(): Promise<void> {
    const model = this.models?.current;
    if (!model) {
      this.frontiers = undefined;
      return;
    }
    await this.guard(async () => {
      this.frontiers = await this.api.call('models.frontiers', { path: model.path });
    });
  }

  /** Starts calibrating the loaded model in the background; progress arrives as events. */
  async calibrate(): Promise<void> {
    const model = this.models?.current;
    if (!model) return;
    await this.guard(async () => {
      const calibration = await this.api.call('models.calibrate', { path: model.path });
      if (this.models) this.models.calibration = calibration;
    });
  }

  /** Settings → Calibration: whether models with no frontier are calibrated by the app itself. */
  async setAutoCalibrate(enabled: boolean): Promise<void> {
    await this.guard(async () => {
      this.models = await this.api.call('models.setAutoCalibrate', { enabled });
    });
  }

  async cancelCalibration(): Promise<void> {
    await this.guard(async () => {
      const calibration = await this.api.call('models.cancelCalibration', {});
      if (this.models) this.models.calibration = calibration;
    });
  }

  async refreshSavedKv(): Promise<void> {
    if (!this.modelReady) return;
    await this.guard(async () => {
      this.savedKv = await this.api.call('savedKv.list', {});
    });
  }

  /** Deletes one saved cache, or all of them without `id`. */
  async removeSavedKv(id?: string): Promise<void> {
    await this.guard(async () => {
      this.savedKv = await this.api.call('savedKv.remove', id === undefined ? {} : { id });
    });
  }

  async setSavedKvBudget(budgetBytes: number): Promise<void> {
    await this.guard(async () => {
      this.savedKv = await this.api.call('savedKv.setBudget', { budgetBytes });
    });
  }

  notify(text: string, tone: Toast['tone'] = 'info', action?: Toast['action'], ms = 6000): void {
    const toast: Toast = { id: ++this.toastId, text, tone, ...(action ? { action } : {}) };
    this.toasts.push(toast);
    setTimeout(() => this.dismiss(toast.id), ms);
  }

  dismiss(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }

  /** Runs an action and turns a failure into a toast; returns whether it succeeded. */
  async guard(action: () => Promise<void>): Promise<boolean> {
    try {
      await action();
      return true;
    } catch (error) {
      this.notify(error instanceof Error ? error.message : String(error), 'error');
      return false;
    }
  }

  private beginAnswer(answer: MessageRow, question: MessageRow | null): void {
    if (this.detail?.session.id === answer.sessionId) {
      const messages = this.detail.messages;
      if (question && !messages.some((m) => m.id === question.id)) messages.push(question);
      if (!messages.some((m) => m.id === answer.id)) messages.push(answer);
    }
    this.answeringId = answer.id;
    this.prefill = { messageId: answer.id, done: 0, total: 0, startedAt: performance.now(), cached: null, cache: null, layers: null };
    this.decode = null;
  }

  private findMessage(sessionId: string, messageId: string): MessageRow | undefined {
    if (this.detail?.session.id !== sessionId) return undefined;
    return this.detail.messages.find((m) => m.id === messageId);
  }

  handleEvent(event: AppEvent): void {
    switch (event.type) {
      case 'turn.token': {
        const message = this.findMessage(event.sessionId, event.messageId);
        if (message) message.content += event.text;
        if (this.prefill?.messageId === event.messageId) this.prefill = null;
        if (this.decode?.messageId === event.messageId) this.decode.tokens += 1;
        else this.decode = { messageId: event.messageId, firstAt: performance.now(), tokens: 1 };
        this.answeringId = event.messageId;
        break;
      }
      case 'turn.progress':
        if (this.prefill?.messageId === event.messageId) {
          this.prefill.cached ??= event.done;
          this.prefill.done = event.done;
          this.prefill.total = event.total;
          this.prefill.cache = event.cache ?? null;
          if (event.live?.layers) this.prefill.layers = event.live.layers;
        } else {
          this.prefill = { messageId: event.messageId, done: event.done, total: event.total, startedAt: performance.now(), cached: event.done, cache: event.cache ?? null, layers: event.live?.layers ?? null };
        }
        if (event.live) {
          const same = this.liveCache?.messageId === event.messageId ? this.liveCache : null;
          this.liveCache = {
            messageId: event.messageId,
            // a native lazy prefill brings its layers but no byte count: in use is then unknown, not the last figure
            kvBytesUsed: event.live.kvBytesUsed ?? (event.live.layers ? null : (same?.kvBytesUsed ?? null)),
            kvBytesAllocated: event.live.kvBytesAllocated ?? same?.kvBytesAllocated ?? null,
            free: event.live.free ?? same?.free ?? null,
          };
        }
        break;
      case 'turn.finished': {
        if (this.detail?.session.id === event.sessionId) {
          const index = this.detail.messages.findIndex((m) => m.id === event.message.id);
          if (index >= 0) this.detail.messages[index] = event.message;
        }
        if (this.answeringId === event.message.id) this.answeringId = null;
        if (this.prefill?.messageId === event.message.id) this.prefill = null;
        void this.guard(() => this.refreshSessions());
        break;
      }
      case 'model.state':
        this.models = event.state;
        break;
      case 'download.progress':
        if (this.models) {
          const index = this.models.downloads.findIndex((d) => d.id === event.download.id);
          if (index >= 0) this.models.downloads[index] = event.download;
          else this.models.downloads.push(event.download);
        }
        break;
      case 'calibration.progress':
        if (this.models) this.models.calibration = event.calibration;
        if (event.calibration.status === 'done' && event.calibration.modelPath === this.models?.current?.path) void this.refreshFrontiers();
        break;
      case 'sessions.changed':
        void this.guard(() => this.refreshSessions());
        break;
    }
  }
}
