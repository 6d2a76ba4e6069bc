// The near cache's memory bound with 100k sessions: fed 100k copies shaped like real ones (field
// bytes arriving as views into large receive buffers, as grpc-js hands them out), it holds what
// fits in maxBytes, counts the rest as evictions, and the process heap grows by no more than the
// bytes it accounts for. Alone in its file: the heap is measured after forced collections.
import { randomBytes } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import test from 'ava';
import { encodeValue } from '../../client/codec.ts';
import { compactFields, NearCache, sizeOf } from '../../client/near-cache.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** JS heap plus Buffer memory, after full collections. */
function memoryInUse(): number {
  gc();
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

const SESSIONS = 100_000;

/** Feeds `SESSIONS` copies; each reply's fields are views into a 16 KiB receive buffer, as grpc-js hands them out. */
function feed(cache: NearCache): void {
  const now = Date.now();
  const frame = Buffer.alloc(16 * 1024);
  for (let i = 0; i < SESSIONS; i++) {
    const cart = encodeValue([`sku-${i}`, 'sku-2', 'sku-3'], 'cart');
    const user = encodeValue(`user-${i}`, 'user');
    frame.set(cart, 100);
    frame.set(user, 200);
    const received = { cart: frame.subarray(100, 100 + cart.length), user: frame.subarray(200, 200 + user.length) };
    cache.put({
      id: randomBytes(32).toString('base64url'),
      version: 1 + (i % 7),
      raw: compactFields(received),
      known: undefined,
      meta: { namespace: 'shop', createdAtMs: now, updatedAtMs: now, expiresAtMs: now + 600_000, owner: undefined },
      expiresAtLocalMs: now + 600_000,
      trusted: true,
      slidAtLocalMs: undefined,
    });
  }
}

test.serial('100k sessions stay within maxBytes, evictions are counted, and the heap grows by no more than the accounted bytes', (t) => {
  const maxBytes = 16 * 1024 * 1024;
  const before = memoryInUse();
  const cache = new NearCache({ maxEntries: SESSIONS, maxBytes });
  feed(cache);
  const grown = memoryInUse() - before;
  const { evictions } = cache.counters;
  t.log(`held ${cache.size} copies in ${cache.bytes} accounted bytes (bound ${maxBytes}); heap grew ${grown} bytes; ${evictions} evictions`);
  t.true(cache.bytes <= maxBytes, 'accounted bytes within the bound');
  t.is(cache.size + evictions, SESSIONS, 'every copy not held was counted as an eviction');
  t.true(cache.size > 1000, 'the cache holds what fits');
  t.true(grown <= maxBytes, `the heap grew ${grown} bytes, within maxBytes ${maxBytes}`);
  let accounted = 0;
  for (const id of cache.ids()) accounted += sizeOf(id, cache.peek(id)!.raw);
  t.is(accounted, cache.bytes, 'the running total matches the entries');
});

test.serial('with room for all 100k, the accounted bytes are an upper bound of their real cost', (t) => {
  const before = memoryInUse();
  const cache = new NearCache({ maxEntries: SESSIONS, maxBytes: 2 ** 40 });
  feed(cache);
  const grown = memoryInUse() - before;
  t.log(`100k copies: ${cache.bytes} accounted bytes (${Math.round(cache.bytes / SESSIONS)} per copy), heap grew ${grown} (${Math.round(grown / SESSIONS)} per copy)`);
  t.is(cache.size, SESSIONS);
  t.is(cache.counters.evictions, 0);
  t.true(grown <= cache.bytes, `real ${grown} <= accounted ${cache.bytes}`);
  for (const id of cache.ids()) {
    const { cart } = cache.peek(id)!.raw;
    t.not(cart!.buffer, undefined);
    t.true(cart!.buffer.byteLength < 1024, 'a copy keeps its own small allocation, not the receive buffer');
    break;
  }
});
