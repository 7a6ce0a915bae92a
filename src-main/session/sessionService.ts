// Coordinates a conversation: the store keeps it, the engine answers, the event bus streams the
// answer to the renderer. One answer is written at a time (the engine runs one turn at a time).
import type { AppEvent, DocumentSummary, EnginePreview, ExportedSession, SessionDetail, TurnPreview, TurnStarted } from '../../src-common/contract.js';
import { SessionError } from './sessionError.js';
import type { EngineClient, RunningTurn } from '../engine/engineClient.js';
import type { KeptText, ModelInfo, StatedMemory, StopReason, TurnEvent, TurnMetrics, TurnRequest } from '../../src-common/engineTypes.js';
import type { EngineSupervisor } from '../models/engineSupervisor.js';
import type { LayerProfileSource } from '../models/layerProfiles.js';
import type { FrontierSource } from '../models/modelFrontiers.js';
import type { PrefillTiming } from '../models/prefillTiming.js';
import { policyUsesLayerProfile } from '../../src-common/policy/calibration.js';
import type { LayerProfile } from '../../src-common/policy/simLayerKvLayers.js';
import { PolicySpecError } from '../../src-common/policy/policyError.js';
import { canonicalPolicySetting, parseAutoPolicy } from '../../src-common/policy/select.js';
import type { ModelFrontier } from '../../src-common/policy/frontier.js';
import { parseKvBudgetSetting } from '../../src-common/policy/kvBudgetSetting.js';
import { DEFAULT_SESSION_TITLE, type Store } from '../store/index.js';
import type { MessageRow, SessionRow, SessionSettings } from '../../src-common/storeTypes.js';
import { attachDocument } from './documentAttach.js';
import { withLatestLayerStatsOnly } from './sessionDetail.js';
import { appendStreamingAnswer, truncateFrom } from './messageHistory.js';
import { titleFromQuestion } from './sessionTitle.js';
import { buildTurnMessages } from './turnPlan.js';
import { composeUserMessage } from './documentPrompt.js';
import { keptDocuments } from './documentHeat.js';
import type { LoadedAs } from '../../src-common/policy/expectedTtft.js';
import { StoreError } from '../store/errors.js';

interface ActiveTurn {
  sessionId: string;
  messageId: string;
  /** The engine's id for the turn; null while the model's profile is still being looked up. */
  turnId: number | null;
  stopRequested: boolean;
  client: EngineClient;
  done: Promise<void>;
}

/** What a turn takes from the model's calibration. */
interface Calibration {
  layerProfile: LayerProfile | null;
  frontiers: ModelFrontier[];
}

export interface SessionServiceOptions {
  store: Store;
  supervisor: EngineSupervisor;
  emit(event: AppEvent): void;
  /** Calibrated SimLayerKV profiles (sift calibrate), for turns whose policy uses one. */
  layerProfiles?: LayerProfileSource;
  /** Measured frontiers (sift calibrate, or shipped), for policy auto's choice of lossy presses. */
  frontiers?: FrontierSource;
  /** Free memory and margin for policy auto, as stated (sift ask --free-ram/--free-vram, tests); else measured per turn. */
  memory?: StatedMemory;
  /** Learns this machine's prefill rate from plain turns, and predicts the next turn's TTFT from it. */
  prefillTiming?: PrefillTiming;
}

export class SessionService {
  private active: ActiveTurn | null = null;
  /** An automatic engine restart in progress (a second send meanwhile is BUSY, not a second restart). */
  private restarting: Promise<string | null> | null = null;
  private readonly store: Store;

  constructor(private readonly options: SessionServiceOptions) {
    this.store = options.store;
  }

  list(query?: string): SessionRow[] {
    return query?.trim() ? this.store.sessions.search(query) : this.store.sessions.list();
  }

  create(title?: string): SessionRow {
    return this.store.sessions.create(title ? { title } : {});
  }

  get(sessionId: string): SessionDetail {
    const { session, messages, documents } = this.store.snapshot(sessionId);
    return {
      session,
      messages: withLatestLayerStatsOnly(messages),
      documents: documents.map(({ text: _text, ...summary }) => summary),
      answering: this.active?.sessionId === sessionId,
    };
  }

  rename(sessionId: string, title: string): SessionRow {
    return this.store.sessions.rename(sessionId, title);
  }

  async delete(sessionId: string): Promise<SessionRow> {
    if (this.active?.sessionId === sessionId) await this.stop(sessionId);
    return this.store.sessions.softDelete(sessionId);
  }

  restore(sessionId: string): SessionRow {
    return this.store.sessions.restore(sessionId);
  }

  export(sessionId: string, format: 'markdown' | 'json'): ExportedSession {
    const session = this.store.sessions.require(sessionId);
    const slug = session.title.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '-').replace(/^-|-$/g, '') || 'chat';
    return format === 'markdown'
      ? { fileName: `${slug}.md`, mime: 'text/markdown', content: this.store.exportSession(sessionId, 'markdown') }
      : { fileName: `${slug}.json`, mime: 'application/json', content: this.store.exportSession(sessionId, 'json') };
  }

  updateSettings(sessionId: string, settings: Partial<SessionSettings>): SessionRow {
    if (settings.policy !== undefined) {
      try {
        settings = { ...settings, policy: canonicalPolicySetting(settings.policy) };
      } catch (error) {
        if (error instanceof PolicySpecError) throw new SessionError('BAD_POLICY', error.message);
        throw error;
      }
    }
    return this.store.sessions.updateSettings(sessionId, settings);
  }

  attach(sessionId: string, name: string, bytes: Buffer): Promise<DocumentSummary> {
    return attachDocument(this.store, { sessionId, name, bytes });
  }

  /** A document's text as it was read (the document view and its heatmap); only the chat's own. */
  documentText(sessionId: string, documentId: string): { id: string; name: string; text: string } {
    const document = this.store.documents.get(documentId);
    if (!document || document.sessionId !== sessionId) throw new StoreError('NOT_FOUND', 'That document is not in this chat.');
    return { id: document.id, name: document.name, text: document.text };
  }

  async send(sessionId: string, text: string, documentIds: string[] = []): Promise<TurnStarted> {
    const { client, restartNote } = await this.readyToAnswer();
    const session = this.store.sessions.require(sessionId);
    const isFirst = this.store.messages.listBySession(sessionId).length === 0;
    const turn = this.store.beginTurn({ sessionId, userContent: text, documentIds });
    if (isFirst && session.title === DEFAULT_SESSION_TITLE) {
      this.store.sessions.rename(sessionId, titleFromQuestion(text));
    }
    this.answer(client, turn.assistantMessage, restartNote);
    return { userMessage: turn.userMessage, assistantMessage: turn.assistantMessage };
  }

  /** Replaces the last answer with a new one. */
  async regenerate(sessionId: string): Promise<TurnStarted> {
    const { client, restartNote } = await this.readyToAnswer();
    const messages = this.store.messages.listBySession(sessionId);
    const last = messages.at(-1);
    if (!last) throw new SessionError('NOT_ALLOWED', 'There is nothing to regenerate yet.');
    if (last.role === 'assistant') truncateFrom(this.store, last);
    const assistantMessage = appendStreamingAnswer(this.store, sessionId);
    this.answer(client, assistantMessage, restartNote);
    return { userMessage: null, assistantMessage };
  }

  /** Replaces a question (and everything after it) with an edited one, and answers it. */
  async editAndResend(sessionId: string, messageId: string, text: string): Promise<TurnStarted> {
    const { client, restartNote } = await this.readyToAnswer();
    const original = this.store.messages.require(messageId);
    if (original.sessionId !== sessionId || original.role !== 'user') {
      throw new SessionError('NOT_ALLOWED', 'Only your own questions in this chat can be edited.');
    }
    truncateFrom(this.store, original);
    const turn = this.store.beginTurn({ sessionId, userContent: text, documentIds: original.documentIds });
    this.answer(client, turn.assistantMessage, restartNote);
    return { userMessage: turn.userMessage, assistantMessage: turn.assistantMessage };
  }

  async stop(sessionId: string): Promise<boolean> {
    const active = this.active;
    if (!active || active.sessionId !== sessionId) return false;
    active.stopRequested = true;
    if (active.turnId !== null) await active.client.cancel(active.turnId).catch(() => undefined);
    await active.done;
    return true;
  }

  /** Resolves when no answer is being written (tests, shutdown). */
  async whenIdle(): Promise<void> {
    while (this.active) await this.active.done;
  }

  /**
   * The engine to answer with. One that died under an earlier answer is restarted first (the
   * supervisor limits how often), and the answer says so.
   */
  private async readyToAnswer(): Promise<{ client: EngineClient; restartNote: string | null }> {
    const busy = () => new SessionError('BUSY', 'An answer is still being written. Stop it or wait for it to finish.');
    if (this.active || this.restarting) throw busy();
    let restartNote: string | null = null;
    if (this.options.supervisor.status === 'crashed') {
      this.restarting = this.options.supervisor.restartAfterCrash();
      try {
        restartNote = await this.restarting;
      } finally {
        this.restarting = null;
      }
      if (this.active) throw busy();
    }
    return { client: this.options.supervisor.requireReady().client, restartNote };
  }

  /**
   * What sending `text` (with these documents) would do: the prompt's length and the policy's fit,
   * from the engine's tokenizer and auto's cost model; nothing runs. Allowed while answering.
   */
  async preview(sessionId: string, text: string, documentIds: string[] = []): Promise<TurnPreview> {
    const { client } = this.options.supervisor.requireReady();
    const { session, messages, documents } = this.store.snapshot(sessionId);
    const documentsById = new Map(documents.map((d) => [d.id, { name: d.name, text: d.text }]));
    const { systemPrompt, temperature, topP, maxTokens, policy } = session.settings;
    const memory = this.statedMemory(session.settings);
    const draft = documentIds.flatMap((id) => {
      const document = documentsById.get(id);
      return document ? [document] : [];
    });
    const settled = messages.filter((m) => m.status !== 'streaming');
    const { layerProfile, frontiers } = await this.calibrationFor(policy);
    const request: TurnRequest = {
      messages: [...buildTurnMessages(systemPrompt, settled, documentsById), { role: 'user', content: composeUserMessage(text, draft) }],
      sampling: { temperature, topP, maxTokens },
      policy,
      ...(memory ? { memory } : {}),
      ...(layerProfile ? { layerProfile } : {}),
      ...(frontiers.length ? { frontiers } : {}),
    };
    const preview = await client.planTurn(request);
    return { ...preview, ...(await this.expectedTtft(preview)) };
  }

  /** The preview's TTFT at this machine's measured rate, or nulls (no plain turn measured yet, or no model). */
  private async expectedTtft(preview: EnginePreview): Promise<Pick<TurnPreview, 'expectedTtftMs' | 'expectedTtftBasis'>> {
    const { supervisor, prefillTiming } = this.options;
    const model = supervisor.model;
    const build = supervisor.build;
    if (!prefillTiming || !model || !build || !preview.fits) return { expectedTtftMs: null, expectedTtftBasis: null };
    try {
      const expected = await prefillTiming.expected({ path: model.path, shape: model }, build.id, loadedAs(model), preview.promptTokens, preview.cachedTokens, preview.policy);
      return { expectedTtftMs: expected?.ms ?? null, expectedTtftBasis: expected?.basis ?? null };
    } catch {
      // a model file moved away since it was loaded: the preview stands without a time
      return { expectedTtftMs: null, expectedTtftBasis: null };
    }
  }

  private buildRequest(sessionId: string, answerId: string): TurnRequest {
    const { session, messages, documents } = this.store.snapshot(sessionId);
    const history = messages.filter((m) => m.id !== answerId);
    const documentsById = new Map(documents.map((d) => [d.id, { name: d.name, text: d.text }]));
    const { systemPrompt, temperature, topP, maxTokens, policy } = session.settings;
    const memory = this.statedMemory(session.settings);
    return {
      messages: buildTurnMessages(systemPrompt, history, documentsById),
      sampling: { temperature, topP, maxTokens },
      policy,
      ...(memory ? { memory } : {}),
      // a cache saved on disk is listed by the documents it holds, else by the chat
      cacheLabel: documents.length > 0 ? documents.map((d) => d.name).join(', ') : session.title,
    };
  }

  /** The memory auto plans with: the app's stated figures (tests, the CLI) and the chat's KV budget. */
  private statedMemory(settings: SessionSettings): StatedMemory | null {
    const budget = parseKvBudgetSetting(settings.kvBudget);
    const stated: StatedMemory = {
      ...this.options.memory,
      ...(budget.kind === 'bytes' ? { kvBudgetBytes: budget.bytes } : budget.kind === 'tokens' ? { kvBudgetTokens: budget.tokens } : {}),
    };
    return Object.keys(stated).length > 0 ? stated : null;
  }

  /** The loaded model's calibrated profile when the policy needs it (simlayerkv without layers=), or may choose it (auto). */
  private layerProfileFor(policy: string): LayerProfile | null | Promise<LayerProfile | null> {
    const source = this.options.layerProfiles;
    const model = this.options.supervisor.model;
    if (!source || !model || !(policyUsesLayerProfile(policy) || isAuto(policy))) return null;
    return source.forModel(model.path);
  }

  /** The loaded model's measured frontiers when the policy is auto (it picks lossy presses from the one nearest the prompt's length). */
  private frontiersFor(policy: string): ModelFrontier[] | Promise<ModelFrontier[]> {
    const source = this.options.frontiers;
    const model = this.options.supervisor.model;
    if (!source || !model || !isAuto(policy)) return [];
    return source.forModel(model.path);
  }

  /** What a turn under this policy takes from the model's calibration: its layer profile, its frontier. */
  private calibrationFor(policy: string): Calibration | Promise<Calibration> {
    const layerProfile = this.layerProfileFor(policy);
    const frontiers = this.frontiersFor(policy);
    if (layerProfile instanceof Promise || frontiers instanceof Promise) {
      return Promise.all([layerProfile, frontiers]).then(([l, f]) => ({ layerProfile: l, frontiers: f }));
    }
    return { layerProfile, frontiers };
  }

  /** Starts the engine on an answer already stored as 'streaming'; returns without waiting. */
  private answer(client: EngineClient, answer: MessageRow, restartNote: string | null = null): void {
    const { sessionId, id: messageId } = answer;
    const writer = this.store.createStreamingWriter(messageId, { flushIntervalMs: 250 });
    const onEvent = (event: TurnEvent) => {
      if (event.type === 'token') {
        try {
          writer.append(event.text);
        } catch {
          // a failed write surfaces again when the answer is finished; keep streaming to the screen
        }
        this.options.emit({ type: 'turn.token', sessionId, messageId, text: event.text });
      } else if (event.type === 'progress') {
        const { done, total, cache, live } = event;
        this.options.emit({ type: 'turn.progress', sessionId, messageId, done, total, ...(cache ? { cache } : {}), ...(live ? { live } : {}) });
      }
    };
    const active: ActiveTurn = { sessionId, messageId, turnId: null, stopRequested: false, client, done: Promise.resolve() };
    const start = (request: TurnRequest, { layerProfile, frontiers }: Calibration): RunningTurn['result'] => {
      const running = client.runTurn({ ...request, ...(layerProfile ? { layerProfile } : {}), ...(frontiers.length ? { frontiers } : {}) }, onEvent);
      active.turnId = running.turnId;
      // Stop pressed while the profile was being looked up
      if (active.stopRequested) void client.cancel(running.turnId).catch(() => undefined);
      return running.result;
    };
    let outcome: RunningTurn['result'];
    let request: TurnRequest;
    try {
      request = this.buildRequest(sessionId, messageId);
      const calibration = this.calibrationFor(request.policy);
      outcome = calibration instanceof Promise ? calibration.then((c) => start(request, c)) : start(request, calibration);
    } catch (error) {
      this.finishWith(sessionId, () => writer.fail(error));
      return;
    }
    const done = outcome.then(
      (result) => {
        const kept = result.metrics.kept ? this.keptOfDocuments(sessionId, request, result.metrics.kept) : null;
        const metrics = {
          ...result.metrics,
          kept,
          ...(restartNote ? { notice: [restartNote, result.metrics.notice].filter(Boolean).join(' ') } : {}),
        };
        if (result.stopReason !== 'cancelled') this.options.supervisor.noteAnswerCompleted();
        const noted = this.notePrefill(result.metrics, result.stopReason);
        this.finishWith(sessionId, () => writer.finish(metrics, result.stopReason === 'cancelled' ? 'cancelled' : 'complete'));
        // whenIdle() waits for it too: `sift ask` closes the store right after
        return noted;
      },
      (error: unknown) => {
        this.finishWith(sessionId, () => writer.fail(error));
      },
    );
    active.done = done;
    this.active = active;
    void done.finally(() => {
      if (this.active?.messageId === messageId) this.active = null;
    });
  }

  /** What the cache kept of the chat's documents; none when the chat is gone meanwhile (the answer still finishes). */
  private keptOfDocuments(sessionId: string, request: TurnRequest, kept: KeptText): KeptText | null {
    try {
      return keptDocuments(kept, request.messages, this.store.snapshot(sessionId).documents);
    } catch {
      return null;
    }
  }

  /** A plain prefill's rate, for the next previews; a failure to record it costs the answer nothing. */
  private async notePrefill(metrics: TurnMetrics, stopReason: StopReason): Promise<void> {
    const { supervisor, prefillTiming } = this.options;
    const model = supervisor.model;
    const build = supervisor.build;
    if (!prefillTiming || !model || !build) return;
    await prefillTiming.record(model.path, build, loadedAs(model), metrics, stopReason).catch(() => undefined);
  }

  private finishWith(sessionId: string, close: () => MessageRow): void {
    let message: MessageRow;
    try {
      message = close();
    } catch (error) {
      // the writer was already closed (e.g. the session was purged); nothing left to show
      console.error('sift: could not finish an answer', error);
      return;
    }
    if (this.active?.messageId === message.id) this.active = null;
    this.options.emit({ type: 'turn.finished', sessionId, message });
  }
}

/** How the loaded model runs, as far as it sets the prefill rate. */
function loadedAs(model: ModelInfo): LoadedAs {
  return { onGpu: model.offloadedLayers > 0, threads: model.threads, flashAttention: model.flashAttention };
}

/** Policy auto (any preference); a malformed setting is not, and fails later with its own error. */
function isAuto(policy: string): boolean {
  try {
    return parseAutoPolicy(policy) !== null;
  } catch {
    return false;
  }
}
