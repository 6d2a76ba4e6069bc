// Public surface of the affinity proxy. Everything not exported here is internal.
import { ProxyServer, type ProxyOptions } from './proxy-server.ts';

export { ProxyServer, type ProxyOptions, type ProxyAddresses } from './proxy-server.ts';
export { ProxyError, PROXY_ERROR_CODES, PROXY_ERROR_STATUS, type ProxyErrorCode } from './errors.ts';
export { parseProxyConfig, loadProxyConfigFile, DEFAULT_PROXY_OPTIONS, type ParseProxyConfigOptions } from './config.ts';
export type { ProxyConfig, RouteConfig, PoolConfig, BackendConfig, AffinityMode } from './config-schema.ts';
export type { Resolver, DiscoveredAddress } from './discovery-dns.ts';
export type { RouteView, BackendView } from './admin.ts';
export { METRIC_NAMES } from './stats.ts';

/** Creates a proxy (not yet listening: call `listen()`). */
export function createProxy(options: ProxyOptions): ProxyServer {
  return new ProxyServer(options);
}
