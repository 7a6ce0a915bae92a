// Messages between an app process and its engine process. One request id per call; a turn's
// streaming events carry the id of the runTurn request they belong to.
import type { LoadModelOptions } from './engine.js';
import type { SavedKvAction } from './savedConversations.js';
import type { AttentionProbeRequest, AttentionProbeResult } from './attentionProbe.js';
import type { LazyPrefillRequest, LazyPrefillResult } from './lazyPrefillProbe.js';
import type { LogitsProbeRequest, LogitsProbeResult } from './forcedLogits.js';
import type { BuildInfo, DryRunResult, ModelInfo, SavedKvState, StopReason, TurnEvent, TurnMetrics, TurnRequest } from '../src-common/engineTypes.js';
import type { EngineErrorCode } from './engineError.js';
import type { AddedWorkers } from './rpcWorkers.js';
import type { WorkerAddress } from '../src-common/workerAddress.js';
import type { LayerProfile } from '../src-common/policy/simLayerKvLayers.js';
import type { EnginePreview } from '../src-common/contract.js';

export type EngineRequest =
  | { id: number; type: 'loadModel'; options: LoadModelOptions }
  | { id: number; type: 'unloadModel' }
  | { id: number; type: 'addWorkers'; workers: WorkerAddress[] }
  | { id: number; type: 'runTurn'; request: TurnRequest }
  | { id: number; type: 'planTurn'; request: TurnRequest }
  | { id: number; type: 'dryRun'; policy: string; promptTokens: number; layerProfile?: LayerProfile | null }
  | { id: number; type: 'cancel'; turnId: number }
  | { id: number; type: 'probeLogits'; request: LogitsProbeRequest & { observe?: number } }
  | { id: number; type: 'probeAttention'; request: AttentionProbeRequest }
  | { id: number; type: 'probeLazyPrefill'; request: LazyPrefillRequest }
  | { id: number; type: 'savedKv'; action: SavedKvAction }
  | { id: number; type: 'shutdown' };

export interface TurnResult {
  answer: string;
  stopReason: StopReason;
  metrics: TurnMetrics;
}

export type EngineResultMap = {
  loadModel: ModelInfo;
  unloadModel: null;
  addWorkers: AddedWorkers;
  runTurn: TurnResult;
  planTurn: EnginePreview;
  dryRun: DryRunResult;
  cancel: null;
  probeLogits: LogitsProbeResult;
  probeAttention: AttentionProbeResult;
  probeLazyPrefill: LazyPrefillResult;
  savedKv: SavedKvState;
  shutdown: null;
};

export type EngineMessage =
  | { type: 'ready'; build: BuildInfo; notice: string | null }
  | { type: 'startupFailed'; message: string }
  | { id: number; type: 'result'; value: unknown }
  | { id: number; type: 'error'; code: EngineErrorCode; message: string }
  | { id: number; type: 'event'; event: TurnEvent };

/** How the engine process talks to its parent: Node's IPC for a fork, parentPort in Electron. */
export interface ParentChannel {
  send(message: EngineMessage): void;
  onMessage(handler: (message: EngineRequest) => void): void;
  /** Called when the parent goes away; the engine must exit. */
  onParentGone(handler: () => void): void;
}
