import { Stack, Token } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/**
 * Characters left out of every password we generate. ProxySQL copies config-file values into SQL
 * text without escaping (`'` and `"` break that), splits admin credentials on `:` and `;`, and
 * shells, URLs and libconfig give meaning to most other punctuation. What remains is letters,
 * digits and `-_.+~`, which at 32 characters is well over 180 bits of entropy.
 */
export const SAFE_SECRET_EXCLUDED_CHARACTERS = ' !"#$%&\'()*,/:;<=>?@[\\]^`{|}';

/**
 * A generated secret in the RDS JSON shape (`username`, `password`, and any `fields`, which may hold
 * tokens) that is safe for ProxySQL.
 */
export function generatedUserSecret(
  scope: Construct, id: string, username: string, description: string, fields: Record<string, string | number> = {},
): secretsmanager.Secret {
  return new secretsmanager.Secret(scope, id, {
    description,
    generateSecretString: {
      secretStringTemplate: Stack.of(scope).toJsonString({ username, ...fields }),
      generateStringKey: 'password',
      passwordLength: 32,
      excludeCharacters: SAFE_SECRET_EXCLUDED_CHARACTERS,
    },
  });
}

/**
 * Whether two secrets are the same one as far as synth can tell: the same object, or the same
 * `secretArn` (a concrete ARN, or the same token, e.g. two imports of one name in one stack).
 */
export function sameSecret(a: secretsmanager.ISecret, b: secretsmanager.ISecret): boolean {
  return a === b || a.secretArn === b.secretArn;
}

/** How an error names a secret without resolving anything: its ARN when known, else its path. */
export function describeSecret(secret: secretsmanager.ISecret): string {
  return Token.isUnresolved(secret.secretArn) ? `the secret at ${secret.node.path}` : `secret ${secret.secretArn}`;
}
