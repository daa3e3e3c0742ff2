import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { SecretsClient, secretName, secretsManagerFetcher } from '../../src/bootstrap/secrets';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db/monitor-AbC123';

/** Stands in for SecretsManagerClient: the unit under test is the validation, not AWS. */
function clientReturning(secretString: string | undefined, seen: string[] = []): SecretsClient {
  return {
    send: async (command: GetSecretValueCommand) => {
      expect(command).toBeInstanceOf(GetSecretValueCommand);
      seen.push(command.input.SecretId!);
      return { SecretString: secretString };
    },
  };
}

describe('secretsManagerFetcher', () => {
  test('asks for the given ARN and returns the RDS-shaped fields', async () => {
    const seen: string[] = [];
    const fetch = secretsManagerFetcher(clientReturning(JSON.stringify({
      engine: 'mysql', username: 'monitor', password: 'p"w\'', host: 'db.local', port: '3307', dbname: 'app',
    }), seen));
    await expect(fetch(ARN)).resolves.toEqual({ username: 'monitor', password: 'p"w\'', host: 'db.local', port: 3307, dbname: 'app' });
    expect(seen).toEqual([ARN]);
  });

  test('host and port are optional', async () => {
    const fetch = secretsManagerFetcher(clientReturning('{"username":"u","password":"p"}'));
    await expect(fetch(ARN)).resolves.toEqual({ username: 'u', password: 'p', host: undefined, port: undefined, dbname: undefined });
  });

  test.each([
    ['{"password":"s3cr3t-value"}', /^Secret prod\/db\/monitor has no "username" field$/],
    ['{"username":"monitor"}', /^Secret prod\/db\/monitor has no "password" field$/],
    ['{"username":"monitor","password":""}', /^Secret prod\/db\/monitor: "password" must be a non-empty string \(got an empty string\)$/],
    ['{"username":42,"password":"s3cr3t-value"}', /^Secret prod\/db\/monitor: "username" must be a non-empty string \(got number\)$/],
    ['{"username":"m","password":"s3cr3t-value","port":"x"}', /^Secret prod\/db\/monitor: "port" must be an integer from 1 to 65535$/],
    ['s3cr3t-value', /^Secret prod\/db\/monitor is not JSON/],
    ['["s3cr3t-value"]', /^Secret prod\/db\/monitor must be a JSON object/],
    [undefined, /^Secret prod\/db\/monitor has no SecretString/],
  ])('%s is refused with a message naming the secret and field, never the value', async (secretString, message) => {
    const fetch = secretsManagerFetcher(clientReturning(secretString));
    const error = await fetch(ARN).then(() => undefined, (e: Error) => e);
    expect(error?.message).toMatch(message);
    expect(error?.message).not.toContain('s3cr3t-value');
  });

  test('an SDK failure names the secret and the SDK error', async () => {
    const fetch = secretsManagerFetcher({
      send: async () => {
        throw Object.assign(new Error('User is not authorized to perform: secretsmanager:GetSecretValue'), { name: 'AccessDeniedException' });
      },
    });
    await expect(fetch(ARN)).rejects.toThrow(/^Could not read secret prod\/db\/monitor: AccessDeniedException: User is not authorized/);
  });

  test('secretName strips the ARN prefix and the random suffix', () => {
    expect(secretName(ARN)).toBe('prod/db/monitor');
    expect(secretName('arn:aws-cn:secretsmanager:cn-north-1:1:secret:x')).toBe('x');
    expect(secretName('my-secret')).toBe('my-secret');
  });
});
