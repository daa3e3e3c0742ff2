import { ProxySqlBackendOptions } from './types';
import { ProxySqlServer } from '../config/topology';

/** One server of a backend's topology, with TLS as the options (or the backend's kind) want it. */
export function server(host: string, port: number, options: ProxySqlBackendOptions, tlsByDefault: boolean): ProxySqlServer {
  return { host, port, useSsl: options.useSsl ?? (tlsByDefault || options.serverCaPem !== undefined) };
}
