// The session service's refusals: a stable code and a message written for the person.
export type SessionErrorCode =
  /** The session's policy does not parse. */
  | 'BAD_POLICY'
  /** A regenerate, edit or similar asked for a message that does not allow it. */
  | 'NOT_ALLOWED'
  /** An answer is still being written. */
  | 'BUSY';

export class SessionError extends Error {
  constructor(
    readonly code: SessionErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SessionError';
  }
}
