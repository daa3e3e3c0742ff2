/**
 * Lambda entry point of the demo API (HTTP API, payload format 2.0). Everything but the Secrets
 * Manager call lives in demo-handler.ts so tests can run it against a real database.
 */
// The Node.js Lambda runtime provides the AWS SDK v3; esbuild keeps it external.
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createDemoHandler } from './demo-handler';

const secretsManager = new SecretsManagerClient({});

async function fetchSecretString(secretArn: string): Promise<string> {
  const out = await secretsManager.send(new GetSecretValueCommand({ SecretId: secretArn }));
  if (out.SecretString === undefined) {
    // Binary secrets are not the RDS JSON shape; say so without touching the bytes.
    throw Object.assign(new Error('the database secret has no SecretString'), { code: 'SECRET_FORMAT' });
  }
  return out.SecretString;
}

const demo = createDemoHandler({ fetchSecretString, env: process.env });

export const handler = demo.handle;
