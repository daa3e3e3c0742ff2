// Its own file because every part of the run throws it (plan.ts, users.ts, connection.ts) and the
// handler tells it from other errors.

/** Thrown with a message meant for the CloudFormation event. */
export class BootstrapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BootstrapError';
  }
}
