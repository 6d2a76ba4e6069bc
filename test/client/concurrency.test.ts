// Many writers on one session: atomic increments, CAS update loops, conflicts and idempotent replays.
import test from 'ava';
import { CLIENT_CHANNELS, SessionClient, SessionError, type ConflictMessage } from '../../client/index.ts';
import { startRedis, type RedisHandle } from '../helpers/redis.ts';
import { startSessiond } from '../helpers/servers.ts';
import { connect, namespace, record, setup as setupWith } from './client-harness.ts';

let redis: RedisHandle;
test.before(async () => {
  redis = await startRedis();
});
test.after.always(async () => {
  await redis?.stop();
});

const setup = (t: Parameters<typeof setupWith>[0]) => setupWith(t, { redis });

test('64 clients × 25 concurrent increments of one field add up to exactly 1600', async (t) => {
  const sessiond = await startSessiond(t, { redis });
  const ns = namespace();
  const clients: SessionClient[] = Array.from({ length: 64 }, () => connect(t, {
    address: sessiond.address,
    namespace: ns,
    deadlineMs: 60_000, // a bound against a hang; a busy machine can take seconds per round
    // A channel and a TCP connection of its own per client, as 64 processes would have.
    channelOptions: { 'grpc.use_local_subchannel_pool': 1 },
  }));
  const { id } = await clients[0]!.create({ hits: 0 });
  const versions = await Promise.all(clients.map(async (client) => {
    const seen: number[] = [];
    for (let i = 0; i < 25; i++) seen.push((await client.patch(id, [{ increment: 'hits', by: 1 }])).version);
    return seen;
  }));
  const final = await clients[0]!.get(id);
  t.is(final!.fields.hits, 1600);
  t.is(final!.version, 1601);
  // Every increment got its own version: nothing was applied twice or lost.
  t.is(new Set(versions.flat()).size, 1600);
});

test('two concurrent update() loops on different fields both land', async (t) => {
  const { client, sessiond, ns } = await setup(t);
  const other = connect(t, { address: sessiond.address, namespace: ns });
  const conflicts = record<ConflictMessage>(t, CLIENT_CHANNELS.conflict, ns);
  const { id } = await client.create({ a: 0, b: 0 });
  const loop = async (writer: SessionClient, field: 'a' | 'b'): Promise<void> => {
    for (let i = 0; i < 30; i++) {
      await writer.update(id, (fields) => ({ ...fields, [field]: (fields[field] as number) + 1 }));
    }
  };
  await Promise.all([loop(client, 'a'), loop(other, 'b')]);
  const final = await client.get(id);
  t.deepEqual(final!.fields, { a: 30, b: 30 });
  t.is(final!.version, 61);
  for (const message of conflicts) {
    t.is(message.method, 'update');
    t.true(message.currentVersion! > message.expectedVersion);
  }
});

test('update() passes fields and snapshot; returning undefined writes nothing', async (t) => {
  const { client } = await setup(t);
  const { id } = await client.create({ cart: ['a'] });
  const unchanged = await client.update(id, (fields, snapshot) => {
    t.deepEqual(fields, { cart: ['a'] });
    t.is(snapshot.version, 1);
    return undefined;
  });
  t.is(unchanged.version, 1);
  const changed = await client.update(id, async (fields) => {
    (fields.cart as string[]).push('b');
    return fields;
  });
  t.is(changed.version, 2);
  t.deepEqual(changed.fields, { cart: ['a', 'b'] });
});

test('update() of a missing session rejects with SESS_ERR_NOT_FOUND', async (t) => {
  const { client } = await setup(t);
  const { id } = await client.create({});
  await client.delete(id);
  const error = await t.throwsAsync(client.update(id, () => ({ a: 1 })), { instanceOf: SessionError });
  t.is(error.code, 'SESS_ERR_NOT_FOUND');
});

test('update() gives up after maxUpdateAttempts conflicts with SESS_ERR_VERSION_CONFLICT', async (t) => {
  const { sessiond, client, ns } = await setup(t);
  const limited = connect(t, { address: sessiond.address, namespace: ns, maxUpdateAttempts: 3 });
  const conflicts = record<ConflictMessage>(t, CLIENT_CHANNELS.conflict, ns);
  const { id } = await client.create({ n: 0 });
  let rounds = 0;
  // Another writer slips in between every read and write.
  const error = await t.throwsAsync(limited.update(id, async (fields) => {
    rounds++;
    await client.patch(id, [{ increment: 'n' }]);
    return { ...fields, n: -1 };
  }), { instanceOf: SessionError });
  t.is(error.code, 'SESS_ERR_VERSION_CONFLICT');
  t.is(rounds, 3);
  t.is(conflicts.length, 2);
  t.is((await client.get(id))!.fields.n, 3);
});

test('a stale expectedVersion rejects with SESS_ERR_VERSION_CONFLICT carrying the current version', async (t) => {
  const { client } = await setup(t);
  const { id } = await client.create({ n: 0 });
  await client.patch(id, [{ increment: 'n' }]);
  await client.patch(id, [{ increment: 'n' }]);
  for (const attempt of [
    () => client.put(id, { n: 100 }, { expectedVersion: 1 }),
    () => client.patch(id, [{ set: 'n', value: 100 }], { expectedVersion: 2 }),
    () => client.regenerate(id, { expectedVersion: 1 }),
  ]) {
    const error = await t.throwsAsync(attempt(), { instanceOf: SessionError });
    t.is(error.code, 'SESS_ERR_VERSION_CONFLICT');
    t.is(error.currentVersion, 3);
    t.is(error.name, 'SessionError');
  }
  t.is((await client.get(id))!.fields.n, 2);
});

test('the same idempotencyKey twice applies the mutation once and replays the first result', async (t) => {
  const { client } = await setup(t);
  const { id } = await client.create({ n: 0 });
  const first = await client.patch(id, [{ increment: 'n', by: 5 }], { idempotencyKey: 'add-5-once' });
  const second = await client.patch(id, [{ increment: 'n', by: 5 }], { idempotencyKey: 'add-5-once' });
  t.false(first.replayed);
  t.true(second.replayed);
  t.is(second.version, first.version);
  t.deepEqual(second.fields, first.fields);
  t.is((await client.get(id))!.fields.n, 5);

  const created = await client.create({ x: 1 }, { idempotencyKey: 'create-once' });
  const recreated = await client.create({ x: 1 }, { idempotencyKey: 'create-once' });
  t.true(recreated.replayed);
  t.is(recreated.id, created.id);
});
