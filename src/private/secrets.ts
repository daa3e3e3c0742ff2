import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/**
 * Characters left out of every password we generate. ProxySQL copies config-file values into SQL
 * text without escaping (`'` and `"` break that), splits admin credentials on `:` and `;`, and
 * shells, URLs and libconfig give meaning to most other punctuation. What remains is letters,
 * digits and `-_.+~`, which at 32 characters is well over 180 bits of entropy.
 */
export const SAFE_SECRET_EXCLUDED_CHARACTERS = ' !"#$%&\'()*,/:;<=>?@[\\]^`{|}';

/** A generated secret in the RDS JSON shape (`username`, `password`) that is safe for ProxySQL. */
export function generatedUserSecret(scope: Construct, id: string, username: string, description: string): secretsmanager.Secret {
  return new secretsmanager.Secret(scope, id, {
    description,
    generateSecretString: {
      secretStringTemplate: JSON.stringify({ username }),
      generateStringKey: 'password',
      passwordLength: 32,
      excludeCharacters: SAFE_SECRET_EXCLUDED_CHARACTERS,
    },
  });
}
