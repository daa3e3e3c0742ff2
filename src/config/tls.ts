import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

/** The JSON keys of a certificate secret (ACM's export names them the same way). */
export interface TlsCertificateSecretFields {
  /**
   * JSON key of the server certificate (PEM, one certificate: the one clients see).
   * @default 'certificate'
   */
  readonly certificate?: string;
  /**
   * JSON key of the certificate's private key (PEM, unencrypted: ProxySQL cannot take a passphrase).
   * @default 'privateKey'
   */
  readonly privateKey?: string;
  /**
   * JSON key of the certificate of the CA that issued the server certificate (PEM). ProxySQL loads
   * one certificate from it and sends it to clients after its own; with a longer chain, put the
   * intermediate that issued the server certificate first and give clients the rest.
   * @default 'certificateChain'
   */
  readonly certificateChain?: string;
}

/**
 * The certificate the proxy presents to clients, and its private key, brought by you.
 *
 * ProxySQL reads `proxysql-cert.pem`, `proxysql-key.pem` and `proxysql-ca.pem` from its datadir at
 * start-up, and generates a self-signed set only when none of the three exists (with some but not
 * all present it refuses to start). The start script writes all three, mode 0600, from ECS secrets
 * before ProxySQL starts; the values never reach the template, the environment of the task
 * definition or the logs.
 *
 * The certificate must name what clients connect to. The load balancer's own DNS name belongs to
 * AWS (`*.elb.<region>.amazonaws.com`) and no certificate of yours can name it: give the proxy a
 * name of your own, e.g. `PrivateDnsAliases`' `nlb.proxysql.local`, issue the certificate for it
 * and have clients connect to that name.
 */
export class ProxySqlTlsCertificate {
  /**
   * A certificate in a Secrets Manager secret that holds JSON with the certificate, its private key
   * and the issuing CA's certificate, all PEM: `{"certificate": "-----BEGIN CERTIFICATE-----\n...",
   * "privateKey": "-----BEGIN PRIVATE KEY-----\n...", "certificateChain": "-----BEGIN CERTIFICATE-----\n..."}`.
   * Tasks read it when they start: after changing its value, replace the tasks (see docs/tls.md).
   */
  public static fromSecret(secret: secretsmanager.ISecret, fields: TlsCertificateSecretFields = {}): ProxySqlTlsCertificate {
    return new ProxySqlTlsCertificate(secret, fields);
  }

  /** The secret holding the PEM values. */
  public readonly secret: secretsmanager.ISecret;
  /** JSON key of the certificate. */
  public readonly certificateField: string;
  /** JSON key of the private key. */
  public readonly privateKeyField: string;
  /** JSON key of the issuing CA's certificate. */
  public readonly certificateChainField: string;

  private constructor(secret: secretsmanager.ISecret, fields: TlsCertificateSecretFields) {
    this.secret = secret;
    this.certificateField = fields.certificate ?? 'certificate';
    this.privateKeyField = fields.privateKey ?? 'privateKey';
    this.certificateChainField = fields.certificateChain ?? 'certificateChain';
  }
}
