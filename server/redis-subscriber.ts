// One pub/sub connection shared by every watch of a sessiond instance, with reference-counted
// channels. Redis pub/sub is fire-and-forget: when the connection drops, messages published
// meanwhile are lost, so every listener is told about the gap once the connection is back.
import type { Redis } from 'ioredis';

interface Listener {
  onMessage: (message: string) => void;
  onGap: () => void;
}

export class RedisSubscriber {
  #redis: Redis;
  #channels = new Map<string, Set<Listener>>();
  #lostConnection = false;

  constructor(redis: Redis) {
    this.#redis = redis;
    redis.on('message', (channel: string, message: string) => {
      for (const listener of this.#channels.get(channel) ?? []) listener.onMessage(message);
    });
    redis.on('close', () => {
      this.#lostConnection = true;
    });
    redis.on('ready', () => {
      if (!this.#lostConnection) return;
      this.#lostConnection = false;
      // ioredis re-subscribes on reconnect (autoResubscribe); what was published in between is gone.
      for (const listeners of this.#channels.values()) for (const listener of listeners) listener.onGap();
    });
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
    this.#channels.clear();
    this.#redis.disconnect();
  }
}
