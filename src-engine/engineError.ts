// The engine's own error: a stable code the main process maps to the app's (src-main/api/errors.ts).
/** Errors the engine reports with a stable code so the app can explain them. */
export type EngineErrorCode =
  | 'MODEL_NOT_FOUND'
  | 'MODEL_INVALID'
  | 'MODEL_TOO_LARGE'
  | 'NO_MODEL_LOADED'
  | 'PROMPT_TOO_LONG'
  /** Policy auto predicts that no policy fits the free memory (the message says what would). */
  | 'WONT_FIT'
  | 'BAD_POLICY'
  | 'BUSY'
  | 'ENGINE_CRASHED'
  | 'INTERNAL';

export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}
