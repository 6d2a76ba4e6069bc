// A sessiond store in its own process that runs one Regenerate or Create on a Redis Cluster and is
// killed (SIGKILL, by itself) right after the step named in its arguments: what a crash of sessiond
// between two steps leaves behind. Used by cluster-step-faults.test.ts. Prints `done` if it finishes.
import { openClusterStore } from '../helpers/redis-cluster.ts';
import type { SessionError } from '../../proto/errors.ts';
import type { StoreLimits } from '../../server/session-store.ts';

interface Job {
  seeds: string[];
  prefix: string;
  limits: StoreLimits;
  killAt: string;
  op: 'regenerate' | 'create';
  namespace: string;
  id: string;
  newId: string;
  owner: string;
  idempotencyKey: string;
}

const job = JSON.parse(process.argv[2]!) as Job;
const store = openClusterStore(job.seeds, {
  commandTimeoutMs: 15_000,
  connectTimeoutMs: 5000,
  keyPrefix: job.prefix,
  limits: job.limits,
  onClusterStep: (step) => {
    if (step === job.killAt) process.kill(process.pid, 'SIGKILL');
  },
});
if (!(await store.waitUntilReady(20_000))) throw new Error('cluster store not ready');
const run = () => job.op === 'regenerate'
  ? store.regenerate(job.namespace, job.id, job.newId, { owner: job.owner, idempotencyKey: job.idempotencyKey })
  : store.create({ namespace: job.namespace, id: job.newId, fields: new Map([['cart', new Uint8Array([0x90])]]), ttlMs: 60_000, owner: job.owner, idempotencyKey: job.idempotencyKey });
// A Cluster store is ready once one master answers: a command for a master whose connection is still
// coming up is refused unsent (SESS_ERR_STORE_UNAVAILABLE, nothing applied). A caller then sends the
// same call again, as here; the step kill above still ends the process at its step.
for (const deadline = Date.now() + 20_000; ; ) {
  try {
    await run();
    break;
  } catch (error) {
    if ((error as SessionError).code !== 'SESS_ERR_STORE_UNAVAILABLE' || Date.now() > deadline) throw error;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
process.stdout.write('done\n');
await store.close();
