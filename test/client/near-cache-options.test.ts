// The nearCache option: off by default, defaults when turned on, every bad value named at once;
// stats of a client without a cache.
import test from 'ava';
import { DEFAULT_CLIENT_OPTIONS, DEFAULT_NEAR_CACHE_OPTIONS, SessionClient, SessionError, resolveClientOptions } from '../../client/index.ts';

const base = { address: '127.0.0.1:1', namespace: 'ns' };

test('the near cache is off by default; true or {} turns it on with the defaults, given fields override them', (t) => {
  t.is(DEFAULT_CLIENT_OPTIONS.nearCache, false);
  t.is(resolveClientOptions(base).nearCache, false);
  t.deepEqual(DEFAULT_NEAR_CACHE_OPTIONS, { maxEntries: 10_000, maxBytes: 64 * 1024 * 1024 });
  t.deepEqual(resolveClientOptions({ ...base, nearCache: true }).nearCache, DEFAULT_NEAR_CACHE_OPTIONS);
  t.deepEqual(resolveClientOptions({ ...base, nearCache: {} }).nearCache, DEFAULT_NEAR_CACHE_OPTIONS);
  t.deepEqual(resolveClientOptions({ ...base, nearCache: { maxEntries: 5, maxBytes: undefined } }).nearCache, { maxEntries: 5, maxBytes: 64 * 1024 * 1024 });
  t.true(Object.isFrozen(resolveClientOptions({ ...base, nearCache: true }).nearCache));
});

test('bad nearCache values are each named, with the unit', (t) => {
  const error = t.throws(() => resolveClientOptions({ ...base, nearCache: { maxEntries: 0, maxBytes: 10 } }), { instanceOf: SessionError });
  t.is(error.code, 'SESS_ERR_INVALID_ARGUMENT');
  t.regex(error.message, /nearCache\.maxEntries: expected an integer >= 1, got 0/);
  t.regex(error.message, /nearCache\.maxBytes: expected an integer >= 1024 \(bytes\), got 10/);
  const shape = t.throws(() => resolveClientOptions({ ...base, nearCache: 'yes' as never }), { instanceOf: SessionError });
  t.regex(shape.message, /nearCache: expected false, true or \{ maxEntries, maxBytes \}, got "yes"/);
});

test('a client without a near cache reports it disabled, and minVersion is checked', async (t) => {
  const client = new SessionClient(base);
  t.teardown(() => client.destroy());
  t.like(client.nearCacheStats(), { enabled: false, hits: 0, entries: 0, lagMs: { count: 0 } });
  const error = await t.throwsAsync(client.get('x', { minVersion: -1 }), { instanceOf: SessionError });
  t.is(error.code, 'SESS_ERR_INVALID_ARGUMENT');
  t.regex(error.message, /minVersion/);
});
