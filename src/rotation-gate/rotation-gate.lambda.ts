/**
 * The rotation gate's Lambda handler (see gate.ts): Secrets Manager calls it for each rotation step.
 *
 * Environment:
 *   ROTATION_FUNCTION_ARN   the rotation function it wraps (Secrets Manager's own, from the Serverless
 *                           Application Repository), invoked with the same event
 *   GATE_PARAMETER_PATH     the SSM path under which each proxy serving the secret registers itself
 *
 * The AWS SDK clients honour the usual endpoint settings (`AWS_ENDPOINT_URL`), which is how the
 * tests point them at a local stand-in.
 */
// Provided by the Lambda Node.js runtime (kept external by the bundler); never loaded by the library.
// eslint-disable-next-line import/no-extraneous-dependencies
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
// eslint-disable-next-line import/no-extraneous-dependencies
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
// eslint-disable-next-line import/no-extraneous-dependencies
import { GetParametersByPathCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
// mysql2 is bundled into the function's asset by esbuild; the library itself never loads this file.
// eslint-disable-next-line import/no-extraneous-dependencies
import * as mysql from 'mysql2/promise';
import { GateDependencies, GateError, GateTarget, parseTarget, PendingValue, RotationEvent, runStep } from './gate';

/** Time kept back from the invocation's deadline to report an error. */
const DEADLINE_MARGIN_MS = 10_000;

export async function handler(event: RotationEvent, context?: Context): Promise<void> {
  const functionArn = requiredEnv('ROTATION_FUNCTION_ARN');
  const path = requiredEnv('GATE_PARAMETER_PATH');
  const end = Date.now() + (context?.getRemainingTimeInMillis() ?? 600_000);
  await runStep(event, awsDependencies(functionArn, path, () => end - DEADLINE_MARGIN_MS));
}

function requiredEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new GateError(`${name} is not set`);
  return v;
}

export function awsDependencies(functionArn: string, path: string, deadline: () => number): GateDependencies {
  const lambda = new LambdaClient({});
  const secrets = new SecretsManagerClient({});
  const ssm = new SSMClient({});
  return {
    async forward(event) {
      const out = await lambda.send(new InvokeCommand({ FunctionName: functionArn, Payload: Buffer.from(JSON.stringify(event)) }));
      if (out.FunctionError) {
        let message = out.FunctionError;
        try {
          const payload = JSON.parse(Buffer.from(out.Payload ?? []).toString('utf8'));
          if (typeof payload.errorMessage === 'string') message = payload.errorMessage;
        } catch { /* keep the error kind */ }
        throw new GateError(`the rotation function failed at ${event.Step}: ${message}`);
      }
    },
    async targets() {
      const found: GateTarget[] = [];
      let token: string | undefined;
      do {
        const page = await ssm.send(new GetParametersByPathCommand({ Path: path, NextToken: token }));
        for (const p of page.Parameters ?? []) found.push(parseTarget(p.Name ?? path, p.Value ?? ''));
        token = page.NextToken;
      } while (token);
      return found;
    },
    async pending(secretId, versionId): Promise<PendingValue> {
      const v = await secrets.send(new GetSecretValueCommand({ SecretId: secretId, VersionId: versionId, VersionStage: 'AWSPENDING' }));
      let o: Record<string, unknown> = {};
      try {
        o = JSON.parse(v.SecretString ?? '');
      } catch { /* reported below */ }
      if (typeof o.username !== 'string' || typeof o.password !== 'string') {
        throw new GateError(`the AWSPENDING version of ${secretId} has no username and password`);
      }
      return { username: o.username, password: o.password, createdAt: v.CreatedDate ? v.CreatedDate.getTime() : Date.now() };
    },
    async login(target, user, password) {
      const c = await mysql.createConnection({
        host: target.host,
        port: target.port,
        user,
        password,
        connectTimeout: 5000,
        // Encrypted when the proxy offers TLS; not verified: the login proves only that the proxy knows
        // the user, and a client certificate is not in play.
        ssl: target.tls ? { rejectUnauthorized: false } : undefined,
      });
      await c.end().catch(() => undefined);
    },
    deadline,
    now: () => Date.now(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    // eslint-disable-next-line no-console
    log: (line) => console.log(line),
  };
}
