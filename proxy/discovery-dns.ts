// DNS discovery: a name that resolves to several addresses (compose replicas, a headless service)
// becomes that many backends, re-resolved every intervalMs. A failed resolution keeps the last
// known set: a flaky resolver must not empty a pool.
import { lookup, resolveSrv } from 'node:dns/promises';
import type { DnsConfig } from './config-schema.ts';

export interface DiscoveredAddress {
  readonly address: string;
  readonly port: number;
}

/** The seam: resolves a pool's dns section to addresses. Tests inject their own. */
export type Resolver = (config: DnsConfig) => Promise<DiscoveredAddress[]>;

/** The system resolver: getaddrinfo for `a` (honours /etc/hosts, as Docker's embedded DNS does), SRV records for `srv`. */
export const systemResolver: Resolver = async (config) => {
  if (config.type === 'a') {
    const found = await lookup(config.name, { all: true, family: config.family });
    return found.map(({ address }) => ({ address, port: config.port! }));
  }
  const records = await resolveSrv(config.name);
  const out: DiscoveredAddress[] = [];
  for (const record of records) {
    const found = await lookup(record.name, { all: true, family: config.family });
    for (const { address } of found) out.push({ address, port: record.port });
  }
  return out;
};

/** Stable backend id for a discovered address: `<name>@<address>:<port>` (IPv6 in brackets). */
export function discoveredBackendId(config: DnsConfig, found: DiscoveredAddress): string {
  return `${config.name}@${formatHost(found.address)}:${found.port}`;
}

export function discoveredBackendUrl(config: DnsConfig, found: DiscoveredAddress): string {
  return `${config.protocol}://${formatHost(found.address)}:${found.port}`;
}

function formatHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

export class DnsDiscovery {
  readonly #config: DnsConfig;
  readonly #resolver: Resolver;
  readonly #onUpdate: (found: readonly DiscoveredAddress[]) => void;
  readonly #onError: (error: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #running = false;

  /** `onUpdate` gets the full current set after every successful resolution. */
  constructor(config: DnsConfig, resolver: Resolver, onUpdate: (found: readonly DiscoveredAddress[]) => void, onError: (error: unknown) => void) {
    this.#config = config;
    this.#resolver = resolver;
    this.#onUpdate = onUpdate;
    this.#onError = onError;
  }

  /** Resolves once (awaited, so the pool has members before the proxy listens), then periodically. */
  async start(): Promise<void> {
    await this.resolveNow();
    if (this.#closed) return;
    this.#timer = setInterval(() => void this.resolveNow(), this.#config.intervalMs);
    this.#timer.unref();
  }

  async resolveNow(): Promise<void> {
    if (this.#running || this.#closed) return;
    this.#running = true;
    try {
      const found = await this.#resolver(this.#config);
      if (!this.#closed) this.#onUpdate(found);
    } catch (error) {
      if (!this.#closed) this.#onError(error);
    } finally {
      this.#running = false;
    }
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
  }
}
