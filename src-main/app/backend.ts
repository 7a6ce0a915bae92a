// The app's back end, the same for the Electron shell and `sift serve`: store, engine supervisor,
// model manager, session service, and the validated dispatcher the transports call. No Electron
// imports here, so serve mode and tests run it in plain Node.
import os from 'node:os';
import path from 'node:path';
import type { AppInfo } from '../../src-common/contract.js';
import { createDispatcher, type ApiHandlers, type Dispatch } from '../api/dispatcher.js';
import { ModelError } from '../models/modelError.js';
import { EventBus } from '../api/eventBus.js';
import type { EngineHostFactory } from '../engine/engineClient.js';
import type { BuildKind } from '../../src-common/engineTypes.js';
import { EngineSupervisor } from '../models/engineSupervisor.js';
import { KnownModels } from '../models/knownModels.js';
import { StoredLayerProfiles } from '../models/layerProfiles.js';
import { StoredFrontiers } from '../models/modelFrontiers.js';
import { ModelCalibrator } from '../models/modelCalibrator.js';
import { AutoCalibration } from '../models/autoCalibration.js';
import { AutoCalibrationStore } from '../models/autoCalibrationStore.js';
import { modelFileHash } from '../models/modelHash.js';
import { EngineClient } from '../engine/engineClient.js';
import { PrefillTiming } from '../models/prefillTiming.js';
import { ModelManager } from '../models/modelManager.js';
import { WorkerListStore } from '../models/workerListStore.js';
import { ModelLoadSettingsStore } from '../models/modelLoadSettingsStore.js';
import { SessionService } from '../session/sessionService.js';
import { SavedCaches } from '../engine/savedCaches.js';
import { openStore, type Store } from '../store/index.js';

/** Soft-deleted chats stay restorable this long, then are purged at the next start. */
const DELETED_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

export interface BackendOptions {
  dataDir?: string;
  shell: AppInfo['shell'];
  version: string;
  build?: BuildKind;
  hostFactory?: EngineHostFactory;
  /** `sift serve --context N`: the context size while the stored setting is auto. */
  contextSize?: number;
  /** Electron's native file dialog; absent in serve mode. */
  pickModelFile?: () => Promise<string | null>;
  /** `sift serve --calibration-tokens N`: shorter calibration questions (tests). */
  calibrationTokens?: number;
  /** `sift serve --calibration-delay MS`: quiet time after a load before an automatic calibration (tests). */
  calibrationDelayMs?: number;
}

export interface Backend {
  store: Store;
  events: EventBus;
  sessions: SessionService;
  models: ModelManager;
  supervisor: EngineSupervisor;
  dispatch: Dispatch;
  close(): Promise<void>;
}

export function createBackend(options: BackendOptions): Backend {
  const store = openStore(options.dataDir ? { dataDir: options.dataDir } : {});
  store.sessions.purgeDeleted(DELETED_RETENTION_MS);
  const events = new EventBus();
  let models: ModelManager | null = null;
  let savedCaches: SavedCaches | null = null;
  let autoCalibration: AutoCalibration | null = null;
  const loadSettings = new ModelLoadSettingsStore(store.settings, options.contextSize);
  const workers = new WorkerListStore(store.settings);
  const supervisor = new EngineSupervisor({
    loadOptions: () => loadSettings.loadOptions(),
    workers: () => workers.addresses(),
    prepare: (client) => savedCaches!.configure(client),
    ...(options.build ? { build: options.build } : {}),
    ...(options.hostFactory ? { hostFactory: options.hostFactory } : {}),
    onChange: () => {
      models?.publish();
      autoCalibration?.engineChanged(supervisor.status === 'ready', supervisor.model?.path ?? null);
    },
  });
  savedCaches = new SavedCaches(store.settings, store.dataDir, () => supervisor.engine());
  const calibrator = new ModelCalibrator({
    profiles: store.modelProfiles,
    startEngine: () => EngineClient.start({ build: 'patched', ...(options.hostFactory ? { host: options.hostFactory } : {}) }),
    onChange: (calibration) => {
      events.emit({ type: 'calibration.progress', calibration });
      void autoCalibration?.calibrationChanged(calibration);
    },
    chatBusy: () => supervisor.turnRunning,
    // tests: one short question, one document, a window that leaves the document something to trim
    ...(options.calibrationTokens
      ? {
          frontier: { lengths: [options.calibrationTokens], depths: 1 },
          layers: { tokens: options.calibrationTokens, window: Math.round(options.calibrationTokens / 8), forced: 8, documents: 1 },
        }
      : {}),
  });
  const frontiers = new StoredFrontiers(store.modelProfiles);
  const autoCalibrationStore = new AutoCalibrationStore(store.settings);
  autoCalibration = new AutoCalibration({
    store: autoCalibrationStore,
    calibrator,
    frontiers,
    hash: modelFileHash,
    chatBusy: () => supervisor.turnRunning,
    placement: () => ({ offloadedLayers: supervisor.model?.offloadedLayers ?? 0, freeRamBytes: os.freemem() }),
    onNote: () => models?.publish(),
    ...(options.calibrationDelayMs !== undefined ? { delayMs: options.calibrationDelayMs } : {}),
    log: (line) => console.warn(`[sift] ${line}`),
  });
  models = new ModelManager({
    calibration: () => calibrator.state(),
    autoCalibrate: () => autoCalibrationStore.enabled(),
    autoCalibrationNote: () => autoCalibration?.note() ?? null,
    supervisor,
    known: new KnownModels(store.settings),
    loadSettings,
    workers,
    downloadDir: path.join(store.dataDir, 'models'),
    emitState: (state) => events.emit({ type: 'model.state', state }),
    emitDownload: (download) => events.emit({ type: 'download.progress', download }),
  });
  const sessions = new SessionService({
    store,
    supervisor,
    layerProfiles: new StoredLayerProfiles(store.modelProfiles),
    frontiers,
    prefillTiming: new PrefillTiming(store.prefillSamples),
    emit: (event) => events.emit(event),
  });
  const dispatch = createDispatcher(createHandlers({ options, store, sessions, models, savedCaches, events, calibrator, frontiers, autoCalibration, autoCalibrationStore }));

  return {
    store,
    events,
    sessions,
    models,
    supervisor,
    dispatch,
    async close() {
      await models.downloads.cancelAll();
      autoCalibration?.close();
      await calibrator.cancel();
      await sessions.whenIdle().catch(() => undefined);
      await supervisor.close();
      store.close();
    },
  };
}

interface HandlerDeps {
  options: BackendOptions;
  store: Store;
  sessions: SessionService;
  models: ModelManager;
  savedCaches: SavedCaches;
  events: EventBus;
  calibrator: ModelCalibrator;
  frontiers: StoredFrontiers;
  autoCalibration: AutoCalibration;
  autoCalibrationStore: AutoCalibrationStore;
}

function createHandlers({ options, store, sessions, models, savedCaches, events, calibrator, frontiers, autoCalibration, autoCalibrationStore }: HandlerDeps): ApiHandlers {
  const changed = <T>(value: T): T => {
    events.emit({ type: 'sessions.changed' });
    return value;
  };
  return {
    'app.info': () => ({
      version: options.version,
      platform: process.platform,
      shell: options.shell,
      capabilities: { pickFiles: Boolean(options.pickModelFile) },
      dataDir: store.dataDir,
    }),
    'sessions.list': ({ query }) => sessions.list(query),
    'sessions.create': ({ title }) => changed(sessions.create(title)),
    'sessions.get': ({ sessionId }) => sessions.get(sessionId),
    'sessions.rename': ({ sessionId, title }) => changed(sessions.rename(sessionId, title)),
    'sessions.delete': async ({ sessionId }) => changed(await sessions.delete(sessionId)),
    'sessions.restore': ({ sessionId }) => changed(sessions.restore(sessionId)),
    'sessions.export': ({ sessionId, format }) => sessions.export(sessionId, format),
    'sessions.updateSettings': ({ sessionId, settings }) => sessions.updateSettings(sessionId, settings),
    'chat.send': async ({ sessionId, text, documentIds }) => changed(await sessions.send(sessionId, text, documentIds)),
    'chat.stop': async ({ sessionId }) => ({ stopped: await sessions.stop(sessionId) }),
    'chat.regenerate': ({ sessionId }) => sessions.regenerate(sessionId),
    'chat.editAndResend': ({ sessionId, messageId, text }) => sessions.editAndResend(sessionId, messageId, text),
    'chat.preview': ({ sessionId, text, documentIds }) => sessions.preview(sessionId, text, documentIds),
    'documents.attach': ({ sessionId, name, dataBase64 }) =>
      sessions.attach(sessionId, name, Buffer.from(dataBase64, 'base64')),
    'documents.text': ({ sessionId, documentId }) => sessions.documentText(sessionId, documentId),
    'models.state': () => models.state(),
    'models.inspect': ({ path: modelPath }) => models.inspect(modelPath),
    'models.add': ({ path: modelPath }) => models.add(modelPath),
    'models.forget': ({ path: modelPath }) => models.forget(modelPath),
    'models.load': ({ path: modelPath }) => models.load(modelPath),
    'models.reload': () => models.reload(),
    'models.setLoadSettings': ({ settings }) => models.setLoadSettings(settings),
    'models.setWorkers': ({ workers }) => models.setWorkers(workers),
    'models.pickFile': async () => {
      if (!options.pickModelFile) throw new ModelError('NO_FILE_PICKER', 'Type or paste the model file path instead.');
      return { path: await options.pickModelFile() };
    },
    'models.download': ({ uri }) => models.downloads.start(uri),
    'models.cancelDownload': ({ downloadId }) => models.downloads.cancel(downloadId),
    'models.calibrate': ({ path: modelPath }) => calibrator.start(models.knownPath(modelPath)),
    'models.cancelCalibration': () => calibrator.cancel(),
    'models.setAutoCalibrate': ({ enabled }) => {
      autoCalibrationStore.setEnabled(enabled);
      autoCalibration.enabledChanged(enabled);
      models.publish();
      return models.state();
    },
    'models.frontiers': async ({ path: modelPath }) => frontiers.forModel(models.knownPath(modelPath)),
    'savedKv.list': () => savedCaches.list(),
    'savedKv.remove': ({ id }) => savedCaches.remove(id),
    'savedKv.setBudget': ({ budgetBytes }) => savedCaches.setBudget(budgetBytes),
  };
}
