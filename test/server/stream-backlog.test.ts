// A client that stops reading its Track or Watch stream while its sessions keep changing: sessiond
// queues at most maxQueuedEvents unread events (Track: plus one per held id), then ends that stream
// with RESOURCE_EXHAUSTED naming the limit, instead of growing its memory without end. A client
// reading the same changes on another stream is not affected.
import type * as grpc from '@grpc/grpc-js';
import test from 'ava';
import type { SessionResponse__Output } from '../../proto/generated/stickless/session/v1/SessionResponse.ts';
import type { WatchEvent__Output } from '../../proto/generated/stickless/session/v1/WatchEvent.ts';
import { call, enc, rawStub, type RawStub } from '../helpers/grpc.ts';
import { startSessiond, waitFor } from '../helpers/servers.ts';
import { openTrack } from './track-helpers.ts';

const LIMIT = 50;
/** Far more events than HTTP/2's flow-control windows and stream buffers take in (at least 100 bytes each). */
const CHANGES = 3000;
/** A Watch event names the changed fields, a Track event the session id: a 100-byte name keeps both near 100 bytes or more. */
const FIELD = 'n'.repeat(100);

async function changeMany(stub: RawStub, id: string, count: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < count) {
      next++;
      await call<object, SessionResponse__Output>(stub, 'Patch', { namespace: 'shop', id, ops: [{ field: FIELD, incrementInt: 1 }] });
    }
  }));
}

async function createSession(stub: RawStub): Promise<string> {
  const reply = await call<object, SessionResponse__Output>(stub, 'Create', { namespace: 'shop', fields: { [FIELD]: enc(0) } });
  return reply.session!.id;
}

for (const store of ['redis', 'memory'] as const) {
  test(`${store}: a Track stream its client stopped reading ends with RESOURCE_EXHAUSTED past maxQueuedEvents; a reading stream gets every change`, async (t) => {
    t.timeout(120_000); // thousands of writes on a busy 2-core machine: a bound, not a speed limit
    const sessiond = await startSessiond(t, { store, config: { maxQueuedEvents: LIMIT } });
    const writer = rawStub(t, sessiond.address);
    const id = await createSession(writer);
    const stalled = openTrack(t, rawStub(t, sessiond.address));
    const reading = openTrack(t, rawStub(t, sessiond.address));
    stalled.hold('shop', id);
    reading.hold('shop', id);
    await stalled.next({ kind: 'TRACKING', id });
    await reading.next({ kind: 'TRACKING', id });
    stalled.stream.pause();

    await changeMany(writer, id, CHANGES);
    await reading.next({ kind: 'UPDATED', id, version: CHANGES + 1 });
    stalled.stream.resume();
    const error = await stalled.failure();
    t.is(error.code, 8 satisfies grpc.status.RESOURCE_EXHAUSTED);
    t.regex(error.details, /^Track: \d+ events wait unread by the client, the most allowed \(maxQueuedEvents \(50\) plus one per held id \(1\)\)/);
    const updates = stalled.events.filter((e) => e.kind === 'UPDATED');
    t.true(updates.length < CHANGES, `sessiond stopped queueing: the stalled client got ${updates.length} of ${CHANGES} changes`);
    t.is(reading.events.filter((e) => e.kind === 'UPDATED').length, CHANGES, 'the reading client got every change');
  });
}

test('a Watch stream its client stopped reading ends with RESOURCE_EXHAUSTED past maxQueuedEvents', async (t) => {
  t.timeout(120_000);
  const sessiond = await startSessiond(t, { config: { maxQueuedEvents: LIMIT } });
  const writer = rawStub(t, sessiond.address);
  const id = await createSession(writer);
  const watch = rawStub(t, sessiond.address).Watch({ namespace: 'shop', id }, { deadline: Date.now() + 110_000 });
  t.teardown(() => watch.cancel());
  const events: WatchEvent__Output[] = [];
  let error: grpc.ServiceError | undefined;
  watch.on('data', (event: WatchEvent__Output) => events.push(event));
  watch.on('error', (e: grpc.ServiceError) => (error = e));
  await waitFor(() => events.some((e) => e.kind === 'SNAPSHOT'), 20_000, 'the snapshot');
  watch.pause();

  await changeMany(writer, id, CHANGES);
  watch.resume();
  const failure = await waitFor(() => error, 20_000, 'the watch to fail');
  t.is(failure.code, 8 satisfies grpc.status.RESOURCE_EXHAUSTED);
  t.regex(failure.details, /^Watch: \d+ events wait unread by the client, the most allowed \(maxQueuedEvents, 50\)/);
  const updates = events.filter((e) => e.kind === 'UPDATED');
  t.true(updates.length < CHANGES, `sessiond stopped queueing: the stalled client got ${updates.length} of ${CHANGES} changes`);
});
