// One pub/sub connection shared by every watch and track stream of a sessiond instance, with
// reference-counted channels. Redis pub/sub is fire-and-forget: when the connection drops, messages
// published meanwhile are lost. Feed listeners hear 'lost' the moment it drops and 'restored' once
// every channel is subscribed again; each channel's listeners are told about the gap then too. A
// connection that dies without closing (a partition) is caught by a PING every heartbeat interval:
// one not answered within the command timeout drops and reconnects the connection.
import type { Redis } from 'ioredis';

/** What the store needs of a change-event subscriber (this one, or ClusterSubscriber on a Cluster). */
export interface ChangeSubscriber {
  /** Listens for the feed being lost and restored; returns an unsubscribe function. */
  onFeed(listener: (state: 'lost' | 'restored') => void): () => void;
  /** Subscribes to `channel`; resolves once Redis confirmed the subscription. */
  subscribe(channel: string, onMessage: (message: string) => void, onGap: () => void): Promise<() => Promise<void>>;
  close(): void;
}

interface Listener {
  onMessage: (message: string) => void;
  onGap: () => void;
}

export class RedisSubscriber implements ChangeSubscriber {
  #redis: Redis;
  #channels = new Map<string, Set<Listener>>();
  #feedListeners = new Set<(state: 'lost' | 'restored') => void>();
  #lostConnection = false;
  #heartbeat: NodeJS.Timeout;

  constructor(redis: Redis, heartbeatIntervalMs = 1000) {
    this.#redis = redis;
    this.#heartbeat = setInterval(() => {
      if (redis.status !== 'ready') return;
      redis.ping().catch(() => {
        if (redis.status === 'ready') redis.disconnect(true);
      });
    }, heartbeatIntervalMs).unref();
    redis.on('message', (channel: string, message: string) => {
      for (const listener of this.#channels.get(channel) ?? []) listener.onMessage(message);
    });
    redis.on('close', () => {
      if (this.#lostConnection) return;
      this.#lostConnection = true;
      this.#emitFeed('lost');
    });
    redis.on('ready', () => {
      if (!this.#lostConnection) return;
      // ioredis emits 'ready' before it re-subscribes (autoResubscribe) in the same tick; a PING sent
      // after that is answered once Redis has handled every SUBSCRIBE, so the channels are live again.
      process.nextTick(() => {
        redis.ping().then(() => {
          if (!this.#lostConnection || redis.status !== 'ready') return;
          this.#lostConnection = false;
          this.#emitFeed('restored');
          for (const listeners of this.#channels.values()) for (const listener of listeners) listener.onGap();
        }, () => {}); // closed again: the next 'ready' tries again
      });
    });
  }

  /** Listens for the connection being lost and restored; returns an unsubscribe function. */
  onFeed(listener: (state: 'lost' | 'restored') => void): () => void {
    this.#feedListeners.add(listener);
    return () => this.#feedListeners.delete(listener);
  }

  #emitFeed(state: 'lost' | 'restored'): void {
    for (const listener of this.#feedListeners) listener(state);
  }

  /** Subscribes `listener` to `channel`; resolves once Redis confirmed the subscription. */
  async subscribe(channel: string, onMessage: (message: string) => void, onGap: () => void): Promise<() => Promise<void>> {
    const listener: Listener = { onMessage, onGap };
    let listeners = this.#channels.get(channel);
    if (!listeners) {
      listeners = new Set();
      this.#channels.set(channel, listeners);
    }
    listeners.add(listener);
    try {
      await this.#redis.subscribe(channel);
    } catch (error) {
      this.#remove(channel, listener);
      throw error;
    }
    return async () => {
      if (this.#remove(channel, listener)) await this.#redis.unsubscribe(channel).catch(() => {});
    };
  }

  /** Removes a listener; true when the channel has no listener left. */
  #remove(channel: string, listener: Listener): boolean {
    const listeners = this.#channels.get(channel);
    if (!listeners) return false;
    listeners.delete(listener);
    if (listeners.size > 0) return false;
    this.#channels.delete(channel);
    return true;
  }

  close(): void {
    clearInterval(this.#heartbeat);
    this.#channels.clear();
    this.#feedListeners.clear();
    this.#redis.disconnect();
  }
}
