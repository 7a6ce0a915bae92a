// One soak round, as a person uses the app: a new chat, a small document, a question, a
// follow-up, a search, the list, the chat opened again; now and then an answer stopped midway or
// the chat deleted. One turn at a time, answers capped short.
import type { AppEvent, MessageRow } from '../../src-common/contract.js';
import type { Prose } from './prose.js';
import { ApiCallError, type ServeClient } from './serveClient.js';

/** Errors a person can meet in normal use: a second question while one is answered. */
const EXPECTED_CODES = new Set(['BUSY']);
const TURN_TIMEOUT_MS = 180_000;

export interface SoakCounters {
  rounds: number;
  turns: number;
  cancelled: number;
  /** Stop pressed after the first token, but the answer had already finished. */
  cancelTooLate: number;
  deletedChats: number;
  searches: number;
  calls: number;
  expectedErrors: Record<string, number>;
  unexpectedErrors: number;
  /** The first unexpected errors' messages. */
  errorSamples: string[];
  /** Milliseconds from send to the answer's end, per finished turn. */
  turnMs: number[];
}

export function newCounters(): SoakCounters {
  return { rounds: 0, turns: 0, cancelled: 0, cancelTooLate: 0, deletedChats: 0, searches: 0, calls: 0, expectedErrors: {}, unexpectedErrors: 0, errorSamples: [], turnMs: [] };
}

export interface RoundOptions {
  maxTokens: number;
  /** Every Nth round stops its first answer after the first token, and deletes its chat. */
  cancelEvery: number;
  deleteEvery: number;
}

export class SoakRunner {
  constructor(
    private readonly client: ServeClient,
    private readonly prose: Prose,
    private readonly options: RoundOptions,
    readonly counters: SoakCounters = newCounters(),
  ) {}

  async round(): Promise<void> {
    const n = ++this.counters.rounds;
    const session = await this.call(() => this.client.call('sessions.create', {}));
    if (!session) return;
    const sessionId = session.id;
    await this.call(() => this.client.call('sessions.updateSettings', { sessionId, settings: { maxTokens: this.options.maxTokens } }));
    const keeper = `Edda ${['Holm', 'Varga', 'Lind', 'Moreau'][n % 4]}`;
    const text = `${this.prose.text(this.prose.between(1500, 2400))}\n\nThe lighthouse at Marsk is kept by ${keeper}, who lit it first in ${1800 + (n % 150)}.`;
    const document = await this.call(() =>
      this.client.call('documents.attach', { sessionId, name: `notes-${n}.txt`, dataBase64: Buffer.from(text).toString('base64') }),
    );
    const cancel = n % this.options.cancelEvery === 0;
    await this.turn(sessionId, 'Who keeps the lighthouse at Marsk? Answer in one short sentence.', document ? [document.id] : [], cancel);
    await this.turn(sessionId, 'When was it first lit?', [], false);
    this.counters.searches++;
    await this.call(() => this.client.call('sessions.list', { query: 'lighthouse Marsk' }));
    await this.call(() => this.client.call('sessions.list', {}));
    await this.call(() => this.client.call('sessions.get', { sessionId }));
    if (n % this.options.deleteEvery === 0 && (await this.call(() => this.client.call('sessions.delete', { sessionId })))) {
      this.counters.deletedChats++;
    }
  }

  /** Sends a question and waits for its answer's end; with `cancel`, presses Stop at the first token. */
  private async turn(sessionId: string, text: string, documentIds: string[], cancel: boolean): Promise<void> {
    const started = performance.now();
    let stopSent: Promise<unknown> | null = null;
    let unsubscribe = () => {};
    let timer: NodeJS.Timeout | undefined;
    const finished = new Promise<MessageRow>((resolve, reject) => {
      timer = setTimeout(() => reject(new ApiCallError('chat.send', 'TIMEOUT', `no answer's end in ${TURN_TIMEOUT_MS / 1000} s`)), TURN_TIMEOUT_MS);
      unsubscribe = this.client.onEvent((event: AppEvent) => {
        if (event.type === 'turn.token' && event.sessionId === sessionId && cancel && !stopSent) {
          stopSent = this.call(() => this.client.call('chat.stop', { sessionId }));
        } else if (event.type === 'turn.finished' && event.sessionId === sessionId) {
          clearTimeout(timer);
          resolve(event.message);
        }
      });
    });
    try {
      const sent = await this.call(() => this.client.call('chat.send', { sessionId, text, documentIds }));
      if (!sent) return;
      const message = await finished;
      await stopSent;
      this.counters.turns++;
      this.counters.turnMs.push(performance.now() - started);
      if (message.status === 'cancelled' && cancel) this.counters.cancelled++;
      else if (message.status === 'complete' && cancel) this.counters.cancelTooLate++;
      else if (message.status !== 'complete') this.unexpected(`answer ended ${message.status}${message.error ? `: ${message.error}` : ''}`);
    } catch (error) {
      this.record(error);
      // a turn still running would make every later question BUSY
      await this.client.call('chat.stop', { sessionId }).catch(() => undefined);
    } finally {
      // a send that failed leaves `finished` waiting: end its timer, and its rejection unobserved
      clearTimeout(timer);
      finished.catch(() => undefined);
      unsubscribe();
    }
  }

  /** Runs one call; errors are counted (expected or not) and give undefined. */
  private async call<T>(run: () => Promise<T>): Promise<T | undefined> {
    this.counters.calls++;
    try {
      return await run();
    } catch (error) {
      this.record(error);
      return undefined;
    }
  }

  private record(error: unknown): void {
    if (error instanceof ApiCallError && EXPECTED_CODES.has(error.code)) {
      this.counters.expectedErrors[error.code] = (this.counters.expectedErrors[error.code] ?? 0) + 1;
    } else {
      this.unexpected(error instanceof Error ? error.message : String(error));
    }
  }

  private unexpected(message: string): void {
    this.counters.unexpectedErrors++;
    // the first ones say what broke; a flood of the same adds nothing
    if (this.counters.errorSamples.length < 20) this.counters.errorSamples.push(message);
  }
}
