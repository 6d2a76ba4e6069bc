// Issue 7, point 4: a stored value the TypeScript client cannot decode (an extension type, a
// 60,000-deep array, bytes that are not MessagePack) was stored before sessiond refused it, or written
// into Redis directly. get() still works: the other fields decode, that field is reported with
// SESS_ERR_UNDECODABLE_FIELD naming it, and its raw bytes stay reachable. Nothing throws a non-SessionError.
import test, { type ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import type { SessionClient } from '../../client/index.ts';
import { SessionError } from '../../proto/errors.ts';
import { generateSessionId } from '../../server/session-id.ts';
import { keysByPrefix } from '../helpers/redis.ts';
import type { StartedSessiond } from '../helpers/servers.ts';
import { setup } from './client-harness.ts';

const UNDECODABLE: Record<string, [Buffer, string]> = {
  ext5: [Buffer.from([0xd4, 0x05, 0x01]), 'extension type 5 (only the timestamp extension -1 is allowed)'],
  deep: [Buffer.concat([Buffer.alloc(60_000, 0x91), Buffer.from([0xc0])]), 'nesting deeper than 64 levels'],
  garbage: [Buffer.from([0xc1, 0x00]), 'reserved byte 0xc1'],
};

/** Writes the bad values next to two good fields, bypassing sessiond's checks; returns the id. */
type Plant = (sessiond: StartedSessiond, ns: string, client: SessionClient) => Promise<string>;

const good = { cart: ['sku-1'], visits: 3 };

const throughMemoryStore: Plant = async (sessiond, ns) => {
  const id = generateSessionId();
  const fields = new Map<string, Uint8Array>([
    ['cart', Uint8Array.of(0x91, 0xa5, ...Buffer.from('sku-1'))],
    ['visits', Uint8Array.of(0x03)],
    ...Object.entries(UNDECODABLE).map(([name, [bytes]]): [string, Uint8Array] => [name, bytes]),
  ]);
  await sessiond.server.store.create({ namespace: ns, id, fields, ttlMs: 60_000, owner: '' });
  return id;
};

const throughRedis: Plant = async (sessiond, ns, client) => {
  const created = await client.create({ ...good, ...Object.fromEntries(Object.keys(UNDECODABLE).map((name) => [name, 'placeholder'])) });
  const redis = new Redis(sessiond.redis!.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const keys = await keysByPrefix(redis, sessiond.keyPrefix);
    const hashes = [];
    for (const key of keys) if ((await redis.type(key)) === 'hash' && (await redis.hexists(key, 'f:cart'))) hashes.push(key);
    if (hashes.length !== 1) throw new Error(`expected one session hash under ${sessiond.keyPrefix}, found ${hashes.length} (namespace ${ns})`);
    for (const [name, [bytes]] of Object.entries(UNDECODABLE)) await redis.hset(hashes[0]!, `f:${name}`, bytes);
  } finally {
    redis.disconnect();
  }
  return created.id;
};

async function check(t: ExecutionContext, store: 'memory' | 'redis'): Promise<void> {
  const { sessiond, client, ns } = await setup(t, { store });
  const id = await (store === 'memory' ? throughMemoryStore : throughRedis)(sessiond, ns, client);

  const snapshot = await client.get(id);
  t.truthy(snapshot);
  t.deepEqual(snapshot!.fields, good, 'the decodable fields are all there, the others absent');
  t.deepEqual(Object.keys(snapshot!.fieldErrors).sort(), Object.keys(UNDECODABLE).sort());
  for (const [name, [bytes, reason]] of Object.entries(UNDECODABLE)) {
    const error = snapshot!.fieldErrors[name]!;
    t.true(error instanceof SessionError, name);
    t.is(error.code, 'SESS_ERR_UNDECODABLE_FIELD', name);
    t.is(error.message, `field "${name}": cannot decode its value (${reason}); its bytes are in rawFields["${name}"]`);
    t.deepEqual(Buffer.from(snapshot!.rawFields[name]!), bytes, `${name}: raw bytes reachable`);
  }
  t.deepEqual([...snapshot!.rawFields.visits!], [0x03]);

  // A field filter naming only a bad field, and update() (which would write back without it).
  const only = await client.get(id, { fields: ['ext5'] });
  t.deepEqual(only!.fields, {});
  t.is(only!.fieldErrors.ext5!.code, 'SESS_ERR_UNDECODABLE_FIELD');
  const refused = await t.throwsAsync(client.update(id, (fields) => ({ ...fields, visits: 4 })));
  t.true(refused instanceof SessionError);
  t.is((refused as SessionError).code, 'SESS_ERR_UNDECODABLE_FIELD');
  t.regex(refused!.message, /^update: field "(ext5|deep|garbage)": cannot decode/);

  // The repair path: patch() overwrites or deletes the bad fields; the mutation's snapshot reports too.
  const patched = await client.patch(id, [{ delete: 'ext5' }, { set: 'deep', value: [[1]] }]);
  t.deepEqual(Object.keys(patched.fieldErrors), ['garbage']);
  t.deepEqual(patched.fields.deep, [[1]]);
  await client.patch(id, [{ delete: 'garbage' }]);
  const repaired = await client.update(id, (fields) => ({ ...fields, visits: 4 }));
  t.deepEqual(repaired.fields, { ...good, visits: 4, deep: [[1]] });
  t.deepEqual(repaired.fieldErrors, {});
}

test('issue 7: get() of a session holding undecodable fields (memory store bypass) reports each by code, the rest stay readable', (t) => check(t, 'memory'));
test('issue 7: get() of a session holding undecodable fields written into Redis reports each by code, the rest stay readable', (t) => check(t, 'redis'));

test('issue 7: the client refuses to send what sessiond would refuse, before a round trip', async (t) => {
  const { client } = await setup(t, { store: 'memory' });
  const error = await t.throwsAsync(client.create({ byNumber: new Map([[1, 'a']]) }));
  t.true(error instanceof SessionError);
  t.is((error as SessionError).code, 'SESS_ERR_INVALID_ARGUMENT');
  t.is(error!.message, 'fields.byNumber: not storable as standard MessagePack (map key of type integer (map keys must be strings))');
  let deep: unknown = 1;
  for (let i = 0; i < 65; i++) deep = [deep];
  const tooDeep = await t.throwsAsync(client.create({ deep }));
  t.is((tooDeep as SessionError).code, 'SESS_ERR_INVALID_ARGUMENT');
  t.regex(tooDeep!.message, /^fields\.deep: .*nesting deeper than 64 levels/);
  const when = new Date(1_700_000_000_123);
  const ok = await client.create({ when });
  t.deepEqual((await client.get(ok.id))!.fields, { when });
});
