import { Duration, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import { Construct } from 'constructs';
import { IProxySqlLoadBalancerProvider } from './endpoint';

/**
 * Properties of `PrivateDnsAliases`.
 */
export interface PrivateDnsAliasesProps {
  /** The VPC whose resolver answers for the zone. */
  readonly vpc: ec2.IVpc;
  /**
   * The proxy the `nlb` name points at: a `ProxySqlFargate`, or anything else with a Network Load
   * Balancer in front of ProxySQL.
   */
  readonly proxy: IProxySqlLoadBalancerProvider;
  /**
   * An Aurora cluster: `writer` points at its cluster (writer) endpoint and `reader` at its reader
   * endpoint.
   *
   * @default - use `writerHostname` / `readerHostname`
   */
  readonly cluster?: rds.IDatabaseCluster;
  /**
   * The writer's host name, when there is no `cluster`.
   *
   * @default - the cluster's writer endpoint; no `writer` record without either
   */
  readonly writerHostname?: string;
  /**
   * A host name that reaches the readers only, when there is no `cluster`.
   *
   * @default - the cluster's reader endpoint; no `reader` record without either
   */
  readonly readerHostname?: string;
  /**
   * An existing private hosted zone to put the records in.
   *
   * @default - a new private hosted zone named `zoneName`, associated with `vpc`
   */
  readonly zone?: route53.IPrivateHostedZone;
  /**
   * Name of the new zone (ignored with `zone`).
   *
   * @default 'proxysql.local'
   */
  readonly zoneName?: string;
  /**
   * Record name of the proxy.
   *
   * @default 'nlb'
   */
  readonly proxyRecordName?: string;
  /**
   * Record name of the writer.
   *
   * @default 'writer'
   */
  readonly writerRecordName?: string;
  /**
   * Record name of the readers.
   *
   * @default 'reader'
   */
  readonly readerRecordName?: string;
  /**
   * TTL of the writer and reader records (the proxy's is an alias and has none).
   *
   * @default Duration.seconds(60)
   */
  readonly ttl?: Duration;
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * A private hosted zone with friendly names: `nlb.<zone>` for the proxy, `writer.<zone>` for the
 * writer and `reader.<zone>` for the readers (never the writer).
 */
export class PrivateDnsAliases extends Construct {
  /** The hosted zone. */
  public readonly zone: route53.IPrivateHostedZone;
  /** Fully qualified name of the proxy (`nlb.proxysql.local` by default). */
  public readonly proxyName: string;
  /** Fully qualified name of the writer, when a writer record was made. */
  public readonly writerName?: string;
  /** Fully qualified name of the readers, when a reader record was made. */
  public readonly readerName?: string;

  constructor(scope: Construct, id: string, props: PrivateDnsAliasesProps) {
    super(scope, id);
    if (props.cluster && (props.writerHostname || props.readerHostname)) {
      throw new Error('PrivateDnsAliases: give either cluster or writerHostname/readerHostname, not both (got both)');
    }
    for (const [prop, value] of [['writerHostname', props.writerHostname], ['readerHostname', props.readerHostname]] as const) {
      if (value !== undefined && !Token.isUnresolved(value) && value.trim() === '') {
        throw new Error(`PrivateDnsAliases: ${prop} must be a host name when given (got ${JSON.stringify(value)})`);
      }
    }
    if (props.zone && props.zoneName) {
      throw new Error(`PrivateDnsAliases: zoneName applies only to a new zone; leave it out with zone (got zoneName ${props.zoneName})`);
    }
    const names = {
      proxyRecordName: props.proxyRecordName ?? 'nlb',
      writerRecordName: props.writerRecordName ?? 'writer',
      readerRecordName: props.readerRecordName ?? 'reader',
    };
    for (const [prop, value] of Object.entries(names)) {
      if (!Token.isUnresolved(value) && !LABEL.test(value)) {
        throw new Error(`PrivateDnsAliases: ${prop} must be one DNS label (lower-case letters, digits and inner hyphens, at most 63) (got ${value})`);
      }
    }
    if (new Set(Object.values(names)).size !== 3) {
      throw new Error(`PrivateDnsAliases: proxyRecordName, writerRecordName and readerRecordName must differ (got ${Object.values(names).join(', ')})`);
    }

    const writerHost = props.cluster?.clusterEndpoint.hostname ?? props.writerHostname;
    const readerHost = props.cluster?.clusterReadEndpoint.hostname ?? props.readerHostname;
    if (writerHost !== undefined && readerHost !== undefined && sameHost(writerHost, readerHost)) {
      throw new Error(`PrivateDnsAliases: readerHostname must not be the writer's host name: reads would land on the writer (got ${readerHost})`);
    }
    // Aurora points the reader endpoint at the writer while the cluster has no reader instance.
    if (props.cluster instanceof rds.DatabaseCluster && props.cluster.instanceIdentifiers.length < 2) {
      throw new Error('PrivateDnsAliases: cluster must have at least one reader instance: without one its reader endpoint resolves to the writer '
        + `(got ${props.cluster.instanceIdentifiers.length} instance); add a reader, or pass writerHostname only`);
    }

    const zoneName = props.zoneName ?? 'proxysql.local';
    this.zone = props.zone ?? new route53.PrivateHostedZone(this, 'Zone', { zoneName, vpc: props.vpc });
    const fqdn = (label: string) => `${label}.${this.zone.zoneName}`;
    const ttl = props.ttl ?? Duration.seconds(60);

    new route53.ARecord(this, 'ProxyRecord', {
      zone: this.zone,
      recordName: names.proxyRecordName,
      target: route53.RecordTarget.fromAlias(new targets.LoadBalancerTarget(props.proxy.loadBalancer)),
      comment: 'ProxySQL (internal Network Load Balancer)',
    });
    this.proxyName = fqdn(names.proxyRecordName);

    if (writerHost !== undefined) {
      new route53.CnameRecord(this, 'WriterRecord', {
        zone: this.zone,
        recordName: names.writerRecordName,
        domainName: writerHost,
        ttl,
        comment: 'Database writer endpoint (bypasses the proxy)',
      });
      this.writerName = fqdn(names.writerRecordName);
    }
    if (readerHost !== undefined) {
      new route53.CnameRecord(this, 'ReaderRecord', {
        zone: this.zone,
        recordName: names.readerRecordName,
        domainName: readerHost,
        ttl,
        comment: 'Database reader endpoint (bypasses the proxy)',
      });
      this.readerName = fqdn(names.readerRecordName);
    }
  }
}

/** Host names compare without case and without the root's trailing dot; tokens only to themselves. */
function sameHost(a: string, b: string): boolean {
  if (Token.isUnresolved(a) || Token.isUnresolved(b)) return a === b;
  const norm = (h: string) => h.trim().toLowerCase().replace(/\.$/, '');
  return norm(a) === norm(b);
}
