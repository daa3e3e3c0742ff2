import { Token } from 'aws-cdk-lib';
import { ProxySqlBackendOptions } from './types';

// Checks shared by the backend factories; each names the prop, the rule and the value.

export function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

export function validPort(prop: string, port: number | undefined): void {
  // jsii callers (Python, Java) can leave out a "required" number; name it instead of failing later.
  check(port !== undefined && port !== null, `ProxySqlBackend: ${prop} is required (a whole number from 1 to 65535) (got ${port})`);
  if (!Token.isUnresolved(port)) {
    check(Number.isInteger(port) && port! >= 1 && port! <= 65535, `ProxySqlBackend: ${prop} must be a whole number from 1 to 65535 (got ${port})`);
  }
}

export function validHost(prop: string, host: string | undefined): void {
  check(typeof host === 'string' && host.trim().length > 0, `ProxySqlBackend: ${prop} must be a host name or IP address (got ${JSON.stringify(host)})`);
  if (Token.isUnresolved(host)) return;
  // "[2001:db8::10]:3306" is how a URL writes an IPv6 address with a port; ProxySQL wants the bare
  // address, and the many colons would pass the port check below.
  check(!/[[\]]/.test(host!),
    `ProxySqlBackend: ${prop} must be a bare IPv6 address, without brackets or port (write 2001:db8::10 and give the port in port) (got ${JSON.stringify(host)})`);
  // A port or scheme in the host is the usual slip ("db:3306", "mysql://db"); IPv6 literals keep
  // their colons, so only a single colon is read as a port.
  check(!/[\s'"`/\\]/.test(host!) && (host!.match(/:/g) ?? []).length !== 1,
    `ProxySqlBackend: ${prop} must be a bare host name or IP address, without port, scheme, path, quotes or spaces (got ${JSON.stringify(host)})`);
}

/** Most bytes of CA certificates the task definition may carry (it is limited to 64 KiB in all). */
const MAX_CA_PEM_BYTES = 32 * 1024;

export function validServerCa(factory: string, options: ProxySqlBackendOptions): void {
  const pem = options.serverCaPem;
  if (pem === undefined) return;
  check(options.useSsl !== false,
    `ProxySqlBackend.${factory}: serverCaPem needs TLS to the servers: drop useSsl: false, or drop serverCaPem (got useSsl false with a serverCaPem)`);
  if (Token.isUnresolved(pem)) return;
  check(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(pem) && !/PRIVATE KEY/.test(pem),
    `ProxySqlBackend.${factory}: serverCaPem must hold PEM certificates (-----BEGIN CERTIFICATE----- ...) and nothing secret (got ${JSON.stringify(pem.slice(0, 40))}...)`);
  check(Buffer.byteLength(pem) <= MAX_CA_PEM_BYTES,
    `ProxySqlBackend.${factory}: serverCaPem must be at most ${MAX_CA_PEM_BYTES} bytes (the task definition is limited to 64 KiB in all); keep the CAs your servers use (got ${Buffer.byteLength(pem)} bytes)`);
}

export function validMaxConnections(factory: string, value: number | undefined): void {
  if (value === undefined) return;
  check(!Token.isUnresolved(value),
    `ProxySqlBackend.${factory}: databaseMaxConnections must be a literal number (the proxy divides it among its tasks at synth) (got a token)`);
  check(Number.isInteger(value) && value >= 10 && value <= 100_000,
    `ProxySqlBackend.${factory}: databaseMaxConnections must be a whole number from 10 to 100000 (got ${value})`);
}
