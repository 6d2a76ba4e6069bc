// Entry of each worker process that `workers: N` forks (proxy/worker-supervisor.ts); not run by hand.
import { runWorker } from './worker-channel.ts';

runWorker();
