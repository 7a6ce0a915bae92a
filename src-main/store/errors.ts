// Store failures the app can tell apart without parsing messages.
export type StoreErrorCode =
  /** The database was written by a newer Sift whose schema this build does not know. */
  | 'SCHEMA_TOO_NEW'
  | 'NOT_FOUND'
  /** A caller broke an invariant (e.g. attached another session's document). */
  | 'INVALID'
  /** A streaming writer was used after finish/fail, or its message stopped streaming. */
  | 'WRITER_CLOSED';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
