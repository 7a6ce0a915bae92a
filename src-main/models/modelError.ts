// The model manager's refusals: a stable code and a message written for the person.
export type ModelErrorCode =
  | 'NOT_FOUND'
  /** Not a model file Sift can use (wrong extension, unreadable header, bad download source). */
  | 'INVALID'
  /** A model is already loading. */
  | 'BUSY'
  | 'NO_MODEL'
  /** The engine process stopped; the model must be reloaded. */
  | 'ENGINE_STOPPED'
  /** The model would not load with changed load settings; the previous ones are back. */
  | 'LOAD_SETTINGS'
  /** This shell cannot show a file picker (the browser UI of `sift serve`). */
  | 'NO_FILE_PICKER';

export class ModelError extends Error {
  constructor(
    readonly code: ModelErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ModelError';
  }
}
