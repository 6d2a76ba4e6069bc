// NearCache on its own: what a read may be answered from, least-recently-used eviction by entries
// and by bytes (counted), expiry, and trust dropped at once.
import test from 'ava';
import { NearCache, sizeOf, type NearCacheEntry } from '../../client/near-cache.ts';

const NOW = 1_000_000;

function entry(id: string, overrides: Partial<NearCacheEntry> = {}, valueBytes = 10): Omit<NearCacheEntry, 'bytes'> {
  return {
    id,
    version: 3,
    raw: { cart: Buffer.alloc(valueBytes, 1) },
    known: undefined,
    meta: { namespace: 'ns', createdAtMs: NOW, updatedAtMs: NOW, expiresAtMs: NOW + 60_000, owner: undefined },
    expiresAtLocalMs: NOW + 60_000,
    trusted: true,
    slidAtLocalMs: undefined,
    ...overrides,
  };
}

test('a read is answered only by a trusted, unexpired copy at least minVersion new that holds the fields asked for', (t) => {
  const cache = new NearCache({ maxEntries: 10, maxBytes: 1 << 20 });
  cache.put(entry('a'));
  cache.put(entry('u', { trusted: false }));
  cache.put(entry('p', { known: new Set(['cart', 'user']), raw: { cart: Buffer.from([1]) } }));
  t.truthy(cache.lookup('a', undefined, 3, NOW));
  t.falsy(cache.lookup('a', undefined, 4, NOW), 'below minVersion');
  t.falsy(cache.lookup('u', undefined, 0, NOW), 'untrusted');
  t.falsy(cache.lookup('missing', undefined, 0, NOW));
  t.truthy(cache.lookup('p', ['cart'], 0, NOW), 'a filtered copy answers a subset of its fields');
  t.truthy(cache.lookup('p', ['user'], 0, NOW), 'a field it asked for and did not get does not exist');
  t.falsy(cache.lookup('p', ['other'], 0, NOW), 'a field it never asked for');
  t.falsy(cache.lookup('p', undefined, 0, NOW), 'a filtered copy cannot answer a full read');
  t.falsy(cache.lookup('a', undefined, 0, NOW + 60_000), 'expired');
  t.is(cache.peek('a'), undefined, 'an expired copy is dropped');
  t.deepEqual(cache.counters, { hits: 3, misses: 6, invalidations: 0, evictions: 0, expirations: 1 });
});

test('bounded by entries: the least recently used copy goes first, counted as an eviction', (t) => {
  const removed: string[] = [];
  const cache = new NearCache({ maxEntries: 3, maxBytes: 1 << 20 }, (id, reason) => removed.push(`${id}:${reason}`));
  for (const id of ['a', 'b', 'c']) cache.put(entry(id));
  cache.lookup('a', undefined, 0, NOW);
  cache.put(entry('d'));
  t.deepEqual([...cache.ids()], ['c', 'a', 'd'], 'a was used after b and c');
  t.deepEqual(removed, ['b:evicted']);
  t.is(cache.counters.evictions, 1);
  t.is(cache.size, 3);
});

test('bounded by bytes: copies are evicted until the accounted bytes fit; a copy larger than the bound is not kept', (t) => {
  const one = sizeOf('a', { cart: Buffer.alloc(1000) });
  const cache = new NearCache({ maxEntries: 100, maxBytes: one * 2 + 10 });
  for (const id of ['a', 'b', 'c', 'd']) cache.put(entry(id, {}, 1000));
  t.deepEqual([...cache.ids()], ['c', 'd']);
  t.is(cache.bytes, one * 2);
  t.is(cache.counters.evictions, 2);
  t.false(cache.put(entry('big', {}, one * 3)));
  t.is(cache.peek('big'), undefined);
  t.is(cache.bytes, one * 2, 'nothing else was evicted for it');
});

test('replacing a copy keeps the byte count exact; untrustAll drops trust at once; sweep drops expired copies', (t) => {
  const cache = new NearCache({ maxEntries: 10, maxBytes: 1 << 20 });
  cache.put(entry('a', {}, 10));
  cache.put(entry('a', { version: 4 }, 500));
  cache.put(entry('b', { expiresAtLocalMs: NOW + 10 }));
  t.is(cache.bytes, sizeOf('a', { cart: Buffer.alloc(500) }) + sizeOf('b', { cart: Buffer.alloc(10) }));
  t.deepEqual(cache.untrustAll().sort(), ['a', 'b']);
  t.is(cache.trustedCount(), 0);
  t.is(cache.sweep(NOW + 10), 1);
  t.deepEqual([...cache.ids()], ['a']);
});
