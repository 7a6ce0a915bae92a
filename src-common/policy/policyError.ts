// The grammar's one error: a policy string that cannot run, with a message a person can act on.
export class PolicySpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicySpecError';
  }
}
