// Change events on a Redis Cluster: sharded pub/sub (SSUBSCRIBE, Redis >= 7). A session's channel
// lives in its session's slot, so each channel is subscribed on the master that holds that slot, one
// connection per master. Same contract as RedisSubscriber: feed listeners hear 'lost' the moment any
// of those connections drops or a channel's slot moves to another master (a failover, a resharding),
// and 'restored' once every channel is subscribed again on its slot's master; each channel's listeners
// are told about the gap then too. A connection that stops answering (a frozen or partitioned master)
// is caught by a PING every heartbeat interval.
import { createRequire } from 'node:module';
import { Redis, type Cluster } from 'ioredis';
import { SessionError } from '../proto/errors.ts';
import type { ChangeSubscriber } from './redis-subscriber.ts';

/** CRC16 slot of a key or channel, honouring hash tags: ioredis' own implementation. */
export const slotOf = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;

interface Listener {
  onMessage: (message: string) => void;
  onGap: () => void;
}

export class ClusterSubscriber implements ChangeSubscriber {
  #cluster: Cluster;
  #intervalMs: number;
  #connections = new Map<string, Redis>();
  /** Listeners by channel, and the master each channel is subscribed on ('' while it is not). */
  #channels = new Map<string, { listeners: Set<Listener>; node: string }>();
  #feedListeners = new Set<(state: 'lost' | 'restored') => void>();
  #lost = false;
  #resyncing: Promise<void> | undefined;
  #timer: NodeJS.Timeout;
  #beats = 0;
  #closed = false;

  constructor(cluster: Cluster, heartbeatIntervalMs = 1000) {
    this.#cluster = cluster;
    this.#intervalMs = heartbeatIntervalMs;
    this.#timer = setInterval(() => this.#check(), heartbeatIntervalMs).unref();
  }

  onFeed(listener: (state: 'lost' | 'restored') => void): () => void {
    this.#feedListeners.add(listener);
    return () => this.#feedListeners.delete(listener);
  }

  async subscribe(channel: string, onMessage: (message: string) => void, onGap: () => void): Promise<() => Promise<void>> {
    const listener: Listener = { onMessage, onGap };
    let entry = this.#channels.get(channel);
    if (!entry) {
      entry = { listeners: new Set(), node: '' };
      this.#channels.set(channel, entry);
    }
    entry.listeners.add(listener);
    try {
      if (entry.node === '') await this.#subscribeOnOwner(channel);
    } catch (error) {
      this.#remove(channel, listener);
      throw error;
    }
    return async () => {
      const node = this.#channels.get(channel)?.node;
      if (this.#remove(channel, listener) && node) await this.#connections.get(node)?.sunsubscribe(channel).catch(() => {});
    };
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#channels.clear();
    this.#feedListeners.clear();
    for (const connection of this.#connections.values()) connection.disconnect();
    this.#connections.clear();
  }

  /** The master that holds the channel's slot now, as ioredis' slot table says. */
  #owner(channel: string): string {
    const node = this.#slotMaster(channel);
    if (!node) throw new SessionError('SESS_ERR_STORE_UNAVAILABLE', `no Redis Cluster master is known for slot ${slotOf(channel)} yet; nothing was applied`);
    return node;
  }

  #slotMaster(channel: string): string | undefined {
    return this.#cluster.slots[slotOf(channel)]?.[0];
  }

  async #subscribeOnOwner(channel: string): Promise<void> {
    const node = this.#owner(channel);
    await this.#connection(node).ssubscribe(channel);
    const entry = this.#channels.get(channel);
    if (entry) entry.node = node;
  }

  #connection(node: string): Redis {
    if (this.#closed) throw new SessionError('SESS_ERR_STORE_UNAVAILABLE', 'session store is closed; nothing was applied');
    let connection = this.#connections.get(node);
    if (connection) return connection;
    const known = this.#cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === node);
    if (!known) throw new SessionError('SESS_ERR_STORE_UNAVAILABLE', `Redis Cluster master ${node} is not connected yet; nothing was applied`);
    // Its own connection (subscribed connections take no other commands), never reconnecting by
    // itself: after a drop the slot table decides where each channel goes.
    connection = new Redis({ ...known.options, retryStrategy: () => null, autoResubscribe: false, enableOfflineQueue: true, lazyConnect: false });
    const created = connection;
    created.on('error', () => {});
    created.on('smessage', (channel: string, message: string) => {
      const entry = this.#channels.get(channel);
      if (entry?.node === node) for (const listener of entry.listeners) listener.onMessage(message);
    });
    created.on('close', () => {
      if (this.#connections.get(node) !== created) return;
      this.#connections.delete(node);
      let dropped = false;
      for (const entry of this.#channels.values()) {
        if (entry.node !== node) continue;
        entry.node = '';
        dropped = true;
      }
      if (dropped) this.#lose();
    });
    this.#connections.set(node, created);
    return created;
  }

  /** Marks the feed lost and resubscribes every channel where its slot is now. */
  #lose(): void {
    if (this.#closed) return;
    if (!this.#lost) {
      this.#lost = true;
      for (const listener of this.#feedListeners) listener('lost');
    }
    this.#resyncing ??= this.#resync().finally(() => {
      this.#resyncing = undefined;
    });
  }

  async #resync(): Promise<void> {
    while (!this.#closed) {
      try {
        await new Promise<void>((resolve, reject) => this.#cluster.refreshSlotsCache((error) => (error ? reject(error) : resolve())));
        for (const [channel, entry] of this.#channels) {
          const owner = this.#owner(channel);
          if (entry.node === owner) continue;
          if (entry.node !== '') await this.#connections.get(entry.node)?.sunsubscribe(channel).catch(() => {});
          entry.node = '';
          await this.#subscribeOnOwner(channel);
        }
        this.#lost = false;
        for (const listener of this.#feedListeners) listener('restored');
        for (const entry of this.#channels.values()) for (const listener of entry.listeners) listener.onGap();
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, this.#intervalMs));
      }
    }
  }

  /**
   * Every heartbeat: a PING on each connection, and every channel still on its slot's master; the
   * slot table itself is read again every other heartbeat (a resharding sends no MOVED to a subscriber).
   */
  #check(): void {
    if (this.#resyncing || this.#closed) return;
    this.#beats += 1;
    if (this.#beats % 2 === 0 && this.#cluster.status === 'ready') this.#cluster.refreshSlotsCache();
    for (const [node, connection] of this.#connections) {
      if (connection.status !== 'ready') continue;
      connection.ping().catch(() => {
        if (this.#connections.get(node) === connection) connection.disconnect();
      });
    }
    for (const [channel, entry] of this.#channels) {
      if (entry.node === '' || this.#slotMaster(channel) === entry.node) continue;
      this.#lose();
      return;
    }
  }

  /** Removes a listener; true when the channel has no listener left. */
  #remove(channel: string, listener: Listener): boolean {
    const entry = this.#channels.get(channel);
    if (!entry) return false;
    entry.listeners.delete(listener);
    if (entry.listeners.size > 0) return false;
    this.#channels.delete(channel);
    return true;
  }
}
