// The app's "Calibrate this model": measures which layers SimLayerKV can trim when the model has
// no layer profile yet (layerCalibration.ts, as `sift calibrate` does), then the model's frontier
// at each default prompt length (frontierCalibration.ts; each stored as soon as it is measured,
// SimLayerKV among the policies when layers can be trimmed), in an engine process of its own, beside the one that answers chats (the weights are mapped, not
// copied; answers are slower meanwhile, and the panel says so), reports progress, and stores the
// result where auto finds it. One calibration at a time; cancelling stops its engine. It waits
// while the chat's engine writes an answer: the person's turn keeps the cores, and the
// calibration's own first-token times are not measured against a competing prefill.
import type { CalibrationState } from '../../src-common/contract.js';
import { readLayerProfile, withLayerProfile, type CalibratedLayerProfile } from '../../src-common/policy/calibration.js';
import { withFrontier } from '../../src-common/policy/frontier.js';
import type { EngineClient } from '../engine/engineClient.js';
import { idleGated, whileBusy } from './idleGate.js';
import type { ModelProfileRepository } from '../store/modelProfiles.js';
import { calibrateLengths, contextFor, DEFAULT_FRONTIER, DEFAULT_FRONTIER_LENGTHS, candidatesFor, lengthsWithin, machineName, type FrontierOptions } from './frontierCalibration.js';
import { calibrateLayers, DEFAULT_CALIBRATION, loadCalibrationDocuments, type CalibrationEngine, type CalibrationOptions } from './layerCalibration.js';
import { modelFileHash } from './modelHash.js';
import { ModelError } from './modelError.js';

export interface ModelCalibratorOptions {
  profiles: Pick<ModelProfileRepository, 'get' | 'put'>;
  /** A patched engine of the calibration's own. */
  startEngine(): Promise<EngineClient>;
  onChange(state: CalibrationState): void;
  /** Shorter questions for tests (serve --calibration-tokens: one length); the default is the CLI's. */
  frontier?: Partial<Omit<FrontierOptions, 'tokens'>> & { lengths?: readonly number[] };
  /** Shorter layer measurement for tests (serve --calibration-tokens); the default is the CLI's, on all built-in documents. */
  layers?: Partial<CalibrationOptions> & { documents?: number };
  /** An answer is being written in the chat's engine: the calibration waits before its next turn. */
  chatBusy?(): boolean;
}


export class ModelCalibrator {
  private current: CalibrationState | null = null;
  private engine: EngineClient | null = null;
  private cancelled = false;

  constructor(private readonly options: ModelCalibratorOptions) {}

  state(): CalibrationState | null {
    return this.current;
  }

  /** Starts calibrating; returns at once with the running state (progress follows as events). */
  start(modelPath: string, how: { automatic: boolean } = { automatic: false }): CalibrationState {
    if (this.current?.status === 'running') throw new ModelError('BUSY', `A calibration is running already (${this.current.modelPath}).`);
    this.cancelled = false;
    this.update({
      modelPath,
      status: 'running',
      automatic: how.automatic,
      paused: false,
      phase: 'frontier',
      phases: 1,
      done: 0,
      total: 0,
      line: 'Starting a calibration engine…',
      error: null,
      startedAt: Date.now(),
      finishedAt: null,
    });
    void this.run(modelPath);
    return this.current!;
  }

  async cancel(): Promise<CalibrationState | null> {
    if (this.current?.status !== 'running') return this.current;
    this.cancelled = true;
    await this.engine?.close().catch(() => undefined);
    return this.current;
  }

  private update(next: CalibrationState): void {
    this.current = next;
    this.options.onChange(next);
  }

  private patch(changes: Partial<CalibrationState>): void {
    if (this.current) this.update({ ...this.current, ...changes });
  }

  /** Resolves once no chat answer is being written (at once when none is), saying it waits meanwhile. */
  private async chatIdle(): Promise<void> {
    const busy = this.options.chatBusy;
    if (!busy?.()) return;
    this.patch({ paused: true });
    await whileBusy(busy, () => this.cancelled);
    this.patch({ paused: false });
  }

  /**
   * Which layers SimLayerKV can trim, on the built-in documents; the reason instead when this
   * model or build cannot be measured (the frontier is measured without SimLayerKV then).
   */
  private async measureLayers(engine: CalibrationEngine, options: CalibrationOptions, documentCount: number | undefined): Promise<CalibratedLayerProfile | string> {
    this.patch({ phase: 'layers', phases: 2, done: 0, total: 0, line: 'Measuring which layers SimLayerKV can trim…' });
    try {
      const documents = (await loadCalibrationDocuments()).slice(0, documentCount);
      return await calibrateLayers(
        engine,
        documents,
        options,
        (line) => this.patch({ line: line.trim() }),
        (done, total) => this.patch({ done, total }),
      );
    } catch (error) {
      if (this.cancelled) throw error;
      return error instanceof Error ? error.message : String(error);
    }
  }

  private async run(modelPath: string): Promise<void> {
    const { lengths: wanted = DEFAULT_FRONTIER_LENGTHS, ...asked } = this.options.frontier ?? {};
    const settings: Omit<FrontierOptions, 'tokens'> = { ...DEFAULT_FRONTIER, ...asked };
    const { documents: documentCount, ...layerAsked } = this.options.layers ?? {};
    const layerSettings: CalibrationOptions = { ...DEFAULT_CALIBRATION, ...layerAsked };
    try {
      const hashing = modelFileHash(modelPath);
      hashing.catch(() => undefined);
      this.engine = await this.options.startEngine();
      if (this.cancelled) throw new Error('cancelled');
      if (this.engine.build.kind !== 'patched') throw new Error('Calibration needs the patched build (run npm run setup).');
      const contextSize = Math.max(contextFor(Math.max(...wanted), settings.answerTokens), layerSettings.tokens + layerSettings.forced + 16);
      const info = await this.engine.loadModel({ path: modelPath, contextSize });
      // the engine opens at most the model's trained context: longer lengths are left out
      const lengths = lengthsWithin(wanted, info.contextSize, settings.answerTokens);
      const modelHash = await hashing;
      const engine = idleGated(this.engine, () => this.chatIdle());
      // the stored profile is read again each time: a `sift calibrate` may have stored meanwhile
      const save = (update: (stored: unknown) => Record<string, unknown>) => {
        this.options.profiles.put({ modelHash, path: modelPath, name: info.name, profile: update(this.options.profiles.get(modelHash)?.profile) });
      };
      let layerProfile = readLayerProfile(this.options.profiles.get(modelHash)?.profile);
      let layersLine = '';
      if (!layerProfile) {
        const layers = await this.measureLayers(engine, { ...layerSettings, tokens: Math.min(layerSettings.tokens, info.contextSize - layerSettings.forced - 16) }, documentCount);
        if (typeof layers === 'string') {
          layersLine = ` Layers not measured: ${layers}`;
        } else {
          save((stored) => withLayerProfile(stored, layers));
          layerProfile = layers;
          layersLine = ` SimLayerKV can trim ${layers.trimmedLayers.length} of ${info.layers} layers.`;
        }
      }
      const candidates = candidatesFor(info, layerProfile);
      this.patch({ phase: 'frontier', done: 0, total: 0, line: 'Building real-prose questions on the model’s tokenizer…' });
      const frontiers = await calibrateLengths(engine, lengths, candidates, { ...settings, layerProfile, machine: machineName() }, {
        progress: (line) => this.patch({ line: line.trim() }),
        onStep: (done, total) => this.patch({ done, total }),
        onLength: (frontier) => save((stored) => withFrontier(stored, frontier)),
      });
      const measured = frontiers.map((f) => `~${f.promptTokens.toLocaleString('en-US')}`).join(' and ');
      const questions = frontiers[0]?.questions ?? 0;
      this.patch({
        status: 'done',
        line: `Measured ${frontiers[0]?.points.length ?? 0} policies at ${measured} tokens, ${questions} question${questions === 1 ? '' : 's'} each.${layersLine}`,
        finishedAt: Date.now(),
      });
    } catch (error) {
      if (this.cancelled) this.patch({ status: 'cancelled', line: 'Cancelled.', finishedAt: Date.now() });
      else this.patch({ status: 'failed', error: error instanceof Error ? error.message : String(error), finishedAt: Date.now() });
    } finally {
      const engine = this.engine;
      this.engine = null;
      await engine?.close().catch(() => undefined);
    }
  }
}
