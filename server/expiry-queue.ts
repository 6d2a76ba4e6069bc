// Coarse timers for many deadlines: one-second buckets swept by one interval, instead of one timer
// per deadline. Track checks each held session once its known expiry has passed; a 100k-id stream
// then costs one Set entry per id, not 100k timers. A deadline fires up to about two seconds late.

/** How often the queue looks for due buckets, and the width of one bucket, in ms. */
const BUCKET_MS = 1000;

export class ExpiryQueue<T> {
  #buckets = new Map<number, Set<T>>();
  #bucketOf = new Map<T, number>();
  #onDue: (item: T) => void;
  #timer: NodeJS.Timeout | undefined;
  /** The last bucket swept; later deadlines go to later buckets. */
  #swept = Math.floor(Date.now() / BUCKET_MS);

  constructor(onDue: (item: T) => void) {
    this.#onDue = onDue;
  }

  /** Calls onDue(item) once local time has passed `atMs` (replaces an earlier schedule of item). */
  schedule(item: T, atMs: number): void {
    this.cancel(item);
    const bucket = Math.max(Math.floor(atMs / BUCKET_MS) + 1, this.#swept + 1);
    let items = this.#buckets.get(bucket);
    if (!items) this.#buckets.set(bucket, (items = new Set()));
    items.add(item);
    this.#bucketOf.set(item, bucket);
    this.#timer ??= setInterval(() => this.#sweep(), BUCKET_MS).unref();
  }

  cancel(item: T): void {
    const bucket = this.#bucketOf.get(item);
    if (bucket === undefined) return;
    this.#bucketOf.delete(item);
    const items = this.#buckets.get(bucket);
    items?.delete(item);
    if (items?.size === 0) this.#buckets.delete(bucket);
  }

  #sweep(): void {
    const now = Math.floor(Date.now() / BUCKET_MS);
    for (; this.#swept < now; ) {
      this.#swept++;
      const items = this.#buckets.get(this.#swept);
      if (!items) continue;
      this.#buckets.delete(this.#swept);
      for (const item of items) {
        this.#bucketOf.delete(item);
        this.#onDue(item);
      }
    }
    if (this.#buckets.size === 0) this.stop();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
