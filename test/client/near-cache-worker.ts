// A client process for the near-cache tests: one SessionClient with the near cache on, driven over
// IPC by the test (`fork(this file, [address, namespace])`). Each answer says whether the read was a
// near-cache hit and how many invalidations the cache had handled before the read began, so the
// test can tell a read made after an invalidation arrived from one made before.
import { SessionClient, SessionError } from '../../client/index.ts';

export type WorkerRequest =
  | { seq: number; op: 'create'; fields: Record<string, unknown> }
  | { seq: number; op: 'get'; id: string; minVersion?: number }
  | { seq: number; op: 'patch'; id: string; set: Record<string, unknown> }
  | { seq: number; op: 'delete'; id: string }
  | { seq: number; op: 'stats' };

export interface WorkerRead {
  version: number;
  fields: Record<string, unknown>;
  hit: boolean;
  invalidationsBefore: number;
}

export type WorkerReply =
  | { seq: number; ok: true; value: unknown }
  | { seq: number; ok: false; code: string; currentVersion: number | undefined; message: string };

const [address, namespace] = process.argv.slice(2);
const client = new SessionClient({
  address: address!,
  namespace: namespace!,
  // Long enough to ride through a sessiond restart or a failover in the tests.
  deadlineMs: 15_000,
  retry: { maxAttempts: 30, initialBackoffMs: 50, maxBackoffMs: 500 },
  nearCache: { maxEntries: 1000, maxBytes: 4 << 20 },
});

async function run(request: WorkerRequest): Promise<unknown> {
  switch (request.op) {
    case 'create': {
      const created = await client.create(request.fields);
      return { id: created.id, version: created.version };
    }
    case 'get': {
      const before = client.nearCacheStats();
      const read = await client.get(request.id, { minVersion: request.minVersion ?? 0 });
      const hit = client.nearCacheStats().hits > before.hits;
      return read ? ({ version: read.version, fields: read.fields, hit, invalidationsBefore: before.invalidations } satisfies WorkerRead) : { version: 0, fields: null, hit, invalidationsBefore: before.invalidations };
    }
    case 'patch': {
      const ops = Object.entries(request.set).map(([field, value]) => ({ set: field, value }));
      return { version: (await client.patch(request.id, ops)).version };
    }
    case 'delete':
      return client.delete(request.id);
    case 'stats':
      return client.nearCacheStats();
  }
}

process.on('message', (request: WorkerRequest) => {
  run(request).then(
    (value) => process.send!({ seq: request.seq, ok: true, value } satisfies WorkerReply),
    (error: unknown) => {
      const e = error instanceof SessionError ? error : new SessionError('SESS_ERR_INTERNAL', String(error));
      process.send!({ seq: request.seq, ok: false, code: e.code, currentVersion: e.currentVersion, message: e.message } satisfies WorkerReply);
    },
  );
});
process.on('disconnect', () => {
  void client.destroy().finally(() => process.exit(0));
});
process.send!({ seq: 0, ok: true, value: 'ready' } satisfies WorkerReply);
