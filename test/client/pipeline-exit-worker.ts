// A process that makes one pipelined call and never closes its client (test/client/pipeline.test.ts):
// it must still exit, once its idle stream is half-closed.
import { SessionClient } from '../../client/index.ts';

const client = new SessionClient({ address: process.argv[2]!, namespace: 'exit' });
await client.create({ n: 1 });
process.stdout.write('created\n');
