// A Watch stream survives losing its pub/sub subscription: after Redis drops sessiond's subscriber
// connection, changes made meanwhile are not lost from view. The stream never goes backwards and
// reaches the current version (by a resync event, a version jump, when events were missed).
import test from 'ava';
import { Redis } from 'ioredis';
import type { SessionResponse__Output } from '../../proto/generated/stickless/session/v1/SessionResponse.ts';
import type { WatchEvent__Output } from '../../proto/generated/stickless/session/v1/WatchEvent.ts';
import { call, enc, rawStub } from '../helpers/grpc.ts';
import { startOwnRedis } from '../helpers/redis.ts';
import { startSessiond, waitFor } from '../helpers/servers.ts';

test('a watch whose subscription is cut still reaches the current version and never goes backwards', async (t) => {
  // Its own Redis: CLIENT KILL TYPE pubsub cuts every subscriber on the server.
  const redis = await startOwnRedis();
  t.teardown(() => redis.stop());
  const sessiond = await startSessiond(t, { redis });
  const stub = rawStub(t, sessiond.address);
  const created = await call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'ns', fields: { a: enc(0) } });
  const id = created.session!.id;
  const stream = stub.Watch({ namespace: 'ns', id }, { deadline: Date.now() + 30_000 });
  t.teardown(() => stream.cancel());
  const events: WatchEvent__Output[] = [];
  stream.on('data', (event: WatchEvent__Output) => events.push(event));
  stream.on('error', () => {});
  await waitFor(() => events.length === 1, 30_000, 'the snapshot');

  const admin = new Redis(redis.url);
  t.teardown(() => admin.disconnect());
  const killed = Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'));
  t.true(killed >= 1, 'sessiond had a subscriber connection');
  // Changes while the subscriber reconnects (its first retry waits 100 ms).
  await call(stub, 'Patch', { namespace: 'ns', id, ops: [{ field: 'a', incrementInt: 1 }] });
  await call(stub, 'Patch', { namespace: 'ns', id, ops: [{ field: 'b', set: enc('x') }] });

  await waitFor(() => events.at(-1)?.version === 3, 10_000, 'the stream to reach version 3');
  const versions = events.map((e) => e.version);
  t.true(versions.every((v, i) => i === 0 || v > versions[i - 1]!), `increasing: ${versions.join(', ')}`);
  t.deepEqual(events.map((e) => e.kind), ['SNAPSHOT', ...events.slice(1).map(() => 'UPDATED')]);
  const last = events.at(-1)!;
  if (versions.length === 2) t.deepEqual([...last.fields].sort(), ['a', 'b'], 'a resync names every field, since any may have changed');
  t.log(versions.length === 2 ? 'events were missed: the resync jumped from 1 to 3' : 'the patches landed after the resubscription');

  // The stream still works normally afterwards.
  await call(stub, 'Patch', { namespace: 'ns', id, ops: [{ field: 'a', delete: {} }] });
  await waitFor(() => events.at(-1)?.version === 4, 10_000, 'version 4');
  t.deepEqual(events.at(-1)!.fields, ['a']);
  t.is(events.at(-1)!.kind, 'UPDATED');
});
