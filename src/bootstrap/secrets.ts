/**
 * Reads database credentials from Secrets Manager secrets in the RDS JSON shape
 * (`{"username": ..., "password": ..., "host"?: ..., "port"?: ...}`). Errors name the secret and the
 * field, never a value, because they end up in the CloudFormation event and in logs.
 */
// Provided by the Lambda Node.js runtime (kept external by the bundler); never loaded by the library.
// eslint-disable-next-line import/no-extraneous-dependencies
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export interface DatabaseCredentials {
  readonly username: string;
  readonly password: string;
  readonly host?: string;
  readonly port?: number;
  /** The RDS secret shape's database name, used when no database is given for a user. */
  readonly dbname?: string;
}

/** The one SDK call we make; a SecretsManagerClient satisfies it. */
export interface SecretsClient {
  send(command: GetSecretValueCommand): Promise<{ SecretString?: string }>;
}

export type CredentialsFetcher = (secretArn: string) => Promise<DatabaseCredentials>;

/**
 * `arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db/app-AbCdEf` → `prod/db/app`.
 * Secrets Manager appends a dash and six random characters to the name in a full ARN.
 */
export function secretName(secretArn: string): string {
  const m = /^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(.+)$/.exec(secretArn);
  if (!m) return secretArn;
  return m[1].replace(/-[A-Za-z0-9]{6}$/, '');
}

export class SecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretError';
  }
}

/** Validates a secret's JSON text. `name` is only used in messages. */
export function parseCredentials(name: string, secretString: string | undefined): DatabaseCredentials {
  if (secretString === undefined) {
    throw new SecretError(`Secret ${name} has no SecretString (binary secrets are not supported): store the credentials as JSON`);
  }
  let json: unknown;
  try {
    json = JSON.parse(secretString);
  } catch {
    throw new SecretError(`Secret ${name} is not JSON: expected {"username": ..., "password": ...}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SecretError(`Secret ${name} must be a JSON object with "username" and "password"`);
  }
  const o = json as Record<string, unknown>;
  for (const field of ['username', 'password']) {
    if (!(field in o)) throw new SecretError(`Secret ${name} has no "${field}" field`);
    if (typeof o[field] !== 'string' || (o[field] as string).length === 0) {
      throw new SecretError(`Secret ${name}: "${field}" must be a non-empty string (got ${o[field] === '' ? 'an empty string' : typeof o[field]})`);
    }
  }
  let port: number | undefined;
  if (o.port !== undefined && o.port !== null && o.port !== '') {
    port = typeof o.port === 'number' ? o.port : Number(o.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new SecretError(`Secret ${name}: "port" must be an integer from 1 to 65535`);
    }
  }
  if (o.host !== undefined && typeof o.host !== 'string') {
    throw new SecretError(`Secret ${name}: "host" must be a string (got ${typeof o.host})`);
  }
  return {
    username: o.username as string,
    password: o.password as string,
    host: o.host as string | undefined,
    port,
    dbname: typeof o.dbname === 'string' && o.dbname !== '' ? o.dbname : undefined,
  };
}

/** A fetcher over the given client (a real SecretsManagerClient by default). */
export function secretsManagerFetcher(client: SecretsClient = new SecretsManagerClient({})): CredentialsFetcher {
  return async (secretArn: string) => {
    const name = secretName(secretArn);
    let secretString: string | undefined;
    try {
      const out = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
      secretString = out.SecretString;
    } catch (e) {
      const err = e as { name?: string; message?: string };
      throw new SecretError(`Could not read secret ${name}: ${err.name ?? 'Error'}: ${err.message ?? e}`);
    }
    return parseCredentials(name, secretString);
  };
}
