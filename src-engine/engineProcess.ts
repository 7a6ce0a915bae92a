// Entry point of the engine process. It loads one native build (argv: --build patched|stock),
// then serves protocol requests from its parent until told to stop or the parent disappears.
// A native crash here ends this process only; the parent reports it and can start a new one.
import { Engine } from './engine.js';
import type { EngineMessage, EngineRequest, ParentChannel } from './protocol.js';
import { type BuildKind } from '../src-common/engineTypes.js';
import { EngineError } from './engineError.js';

interface ElectronParentPort {
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

function parentChannel(): ParentChannel {
  const port = (process as unknown as { parentPort?: ElectronParentPort }).parentPort;
  if (port) {
    // Electron's utilityProcess: Electron ends the child with its parent
    return {
      send: (m) => port.postMessage(m),
      onMessage: (h) => port.on('message', (e) => h(e.data as EngineRequest)),
      onParentGone: () => {},
    };
  }
  if (!process.send) throw new Error('the engine process must be started with an IPC channel');
  return {
    send: (m) => process.send?.(m),
    onMessage: (h) => process.on('message', (m) => h(m as EngineRequest)),
    onParentGone: (h) => process.on('disconnect', h),
  };
}

function requestedBuild(argv: string[]): BuildKind {
  const index = argv.indexOf('--build');
  return argv[index + 1] === 'stock' ? 'stock' : 'patched';
}

async function main(): Promise<void> {
  const channel = parentChannel();
  channel.onParentGone(() => process.exit(0));

  let engine: Engine;
  try {
    engine = await Engine.create(requestedBuild(process.argv));
  } catch (err) {
    channel.send({ type: 'startupFailed', message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  }

  const turns = new Map<number, AbortController>();
  const reply = (message: EngineMessage) => channel.send(message);
  const fail = (id: number, err: unknown) => {
    if (err instanceof EngineError) reply({ id, type: 'error', code: err.code, message: err.message });
    else reply({ id, type: 'error', code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) });
  };

  channel.onMessage((request) => {
    void (async () => {
      try {
        switch (request.type) {
          case 'loadModel':
            reply({ id: request.id, type: 'result', value: await engine.loadModel(request.options) });
            break;
          case 'addWorkers':
            reply({ id: request.id, type: 'result', value: await engine.addWorkers(request.workers) });
            break;
          case 'unloadModel':
            await engine.unloadModel();
            reply({ id: request.id, type: 'result', value: null });
            break;
          case 'runTurn': {
            const controller = new AbortController();
            turns.set(request.id, controller);
            try {
              const outcome = await engine.runTurn(
                request.request,
                (event) => reply({ id: request.id, type: 'event', event }),
                controller.signal,
              );
              reply({ id: request.id, type: 'result', value: outcome });
            } finally {
              turns.delete(request.id);
            }
            break;
          }
          case 'planTurn':
            reply({ id: request.id, type: 'result', value: await engine.planTurn(request.request) });
            break;
          case 'dryRun':
            reply({ id: request.id, type: 'result', value: await engine.dryRun(request.policy, request.promptTokens, request.layerProfile ?? null) });
            break;
          case 'probeLogits':
            reply({ id: request.id, type: 'result', value: await engine.probeLogits(request.request) });
            break;
          case 'probeAttention':
            reply({ id: request.id, type: 'result', value: await engine.probeAttention(request.request) });
            break;
          case 'probeLazyPrefill':
            reply({ id: request.id, type: 'result', value: await engine.probeLazyPrefill(request.request) });
            break;
          case 'savedKv':
            reply({ id: request.id, type: 'result', value: await engine.savedKvRequest(request.action) });
            break;
          case 'cancel':
            turns.get(request.turnId)?.abort();
            reply({ id: request.id, type: 'result', value: null });
            break;
          case 'shutdown':
            await engine.dispose();
            reply({ id: request.id, type: 'result', value: null });
            setImmediate(() => process.exit(0));
            break;
        }
      } catch (err) {
        fail(request.id, err);
      }
    })();
  });

  channel.send({ type: 'ready', build: engine.build, notice: engine.notice });
}

void main();
